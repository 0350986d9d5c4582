/**
 * fedrl command line.
 *   fedrl run      --config configs/x.yaml [--set k=v ...]   whole topology (embedded, or processes over NATS+Redis)
 *   fedrl learner  --config ...                               global learner (+ aggregator) / FedAvg server alone
 *   fedrl actor    --config ... --id site-3                   one actor alone
 *   fedrl train-local --env CartPole-v1 [...]                 one process, no network
 *   fedrl replay-clear --config ...                           empty the run's Redis replay
 */
import { parseArgs } from "node:util";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadExperiment, runDirOf, type Experiment } from "./config";
import { runEmbedded, runLearnerProcess, runActorProcess, connectRedis, envSpace } from "./launch";
import { runMultiProcess } from "./multiprocess";
import { replayKeys } from "./replay/redis";

const USAGE = `usage: fedrl <command> [options]
  run           --config FILE [--set key=value ...]   train: embedded by default, processes over NATS+Redis when NATS_URL is set
  learner       --config FILE [--set ...]             the global learner (hybrid) or FedAvg server, until Ctrl-C
  actor         --config FILE --id ID [--set ...]     one actor
  train-local   --env ID [--episodes N] [...]         local DQN, no network (see --help there)
  replay-clear  --config FILE                         delete the run's Redis replay
Environment: NATS_URL, REDIS_URL select the distributed transports.`;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function progressWriter(): (line: string) => void {
  return (line) => process.stderr.write(`${line}\n`);
}

function onSignals(): AbortController {
  const ac = new AbortController();
  let n = 0;
  const handler = (sig: string) => {
    n++;
    if (n === 1) {
      log(`${sig}: draining and checkpointing (again to force quit)`);
      ac.abort();
    } else process.exit(130);
  };
  process.on("SIGINT", () => handler("SIGINT"));
  process.on("SIGTERM", () => handler("SIGTERM"));
  return ac;
}

function experimentFrom(values: { config?: string; set?: string[] }): Experiment {
  return loadExperiment(values.config, values.set ?? []);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === "train-local") {
    const { main: trainLocal } = await import("../learners/train-local");
    await trainLocal(rest);
    return 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: { config: { type: "string", short: "c" }, set: { type: "string", multiple: true }, id: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const exp = experimentFrom(values);
  const ac = onSignals();
  switch (cmd) {
    case "run": {
      if (exp.transport.nats && !process.env.FEDRL_EMBEDDED) {
        log(`fedrl run: ${exp.mode} on ${exp.env.id}, ${exp.actors.count} actor processes + learner over NATS ${exp.transport.nats}${exp.transport.redis ? ` and Redis ${exp.transport.redis}` : ""}`);
        await runMultiProcess(exp, { configPath: values.config, sets: values.set ?? [], log, progress: progressWriter(), signal: ac.signal });
        return 0;
      }
      log(`fedrl run: ${exp.mode} on ${exp.env.id} with ${exp.actors.count} actors in one process (${exp.transport.nats ? "NATS" : "in-process bus"}, ${exp.transport.redis ? "Redis" : "in-memory"} replay); metrics in ${runDirOf(exp)}/`);
      const summary = await runEmbedded(exp, { log, progress: progressWriter(), signal: ac.signal });
      mkdirSync(runDirOf(exp), { recursive: true });
      const path = join(runDirOf(exp), "summary.json");
      writeFileSync(path, JSON.stringify({ ...summary, actors: summary.actors.map(({ returns, ...a }) => ({ ...a, lastReturns: returns.slice(-10) })) }, null, 2));
      log(`done in ${summary.wallSeconds.toFixed(1)} s: actors' mean-100 ${summary.actors.map((a) => a.mean100.toFixed(1)).join(", ")}; greedy eval of the ${exp.mode === "local" ? "actors' models" : "global model"} ${summary.eval.mean.toFixed(1)} ± ${summary.eval.std.toFixed(1)}; summary in ${path}`);
      return 0;
    }
    case "learner":
      await runLearnerProcess(exp, { log, signal: ac.signal });
      return 0;
    case "actor": {
      if (!values.id) throw new ConfigError("fedrl actor needs --id (letters, digits, '_' or '-')");
      const stats = await runActorProcess(exp, values.id, { log, signal: ac.signal });
      log(`actor ${values.id} done: ${JSON.stringify(stats)}`);
      return 0;
    }
    case "replay-clear": {
      if (!exp.transport.redis) throw new ConfigError("replay-clear needs REDIS_URL (or transport.redis)");
      const redis = await connectRedis(exp.transport.redis);
      const k = replayKeys(exp.run);
      const n = await redis.del(k.data, k.cursor, k.meta);
      redis.disconnect();
      log(`cleared replay of run ${exp.run} (${n} keys; obsDim ${envSpace(exp).obsDim})`);
      return 0;
    }
    default:
      log(`unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/").split("/").pop()!);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      log(e instanceof ConfigError ? `config error: ${e.message}` : `error: ${(e as Error)?.stack ?? e}`);
      process.exit(e instanceof ConfigError ? 2 : 1);
    },
  );
}
