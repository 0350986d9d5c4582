/**
 * fedrl command line. Every command takes the same `--config FILE` and `--set key.path=value`.
 *   fedrl run           whole topology (embedded, or processes over NATS+Redis)
 *   fedrl learner       the recipe's server side alone (global learner / aggregator)
 *   fedrl actor --id X  one actor alone
 *   fedrl train-local   the local recipe with one actor, no network
 *   fedrl replay-clear  empty the run's Redis replay
 */
import { ATTACKS, isAttack } from "../federation/byzantine";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadExperiment, runDirOf } from "./config";
import { runEmbedded } from "./embedded";
import { runLearnerProcess, runActorProcess } from "./processes";
import { runMultiProcess } from "./multiprocess";
import { trainLocalCli } from "./train-local";
import { RECIPES } from "./recipes";
import { HttpPortInUse } from "./http";
import { clearRedisReplay } from "../transport/open";

const COMMON = "  -c, --config FILE        experiment YAML (configs/*.yaml); defaults when omitted\n  --set key.path=value     override one config value (repeatable), e.g. --set agent.lr=1e-3\n  -h, --help               this help";
const HTTP_OPT = { http: { type: "string" } } as const;

const COMMANDS: Record<string, { usage: string; options: NonNullable<ParseArgsConfig["options"]> }> = {
  run: { usage: `fedrl run [--http PORT] [--config FILE] [--set k=v ...]\n  Trains: in one process by default; as a learner and actor processes over NATS + Redis when NATS_URL is set.\n  Modes (config 'mode'): ${Object.values(RECIPES).map((r) => `${r.name}: ${r.summary}`).join("; ")}.\n  --http PORT              live dashboard on http://127.0.0.1:PORT/ and Prometheus metrics on /metrics (config http.port, http.host);\n                           with processes: the learner on PORT, actor i on PORT+1+i\n${COMMON}`, options: { ...HTTP_OPT } },
  learner: { usage: `fedrl learner [--http PORT] [--config FILE] [--set k=v ...]\n  The recipe's server side (global learner and/or aggregator) over NATS (+ Redis for hybrid), until Ctrl-C.\n  --http PORT              dashboard (/) and Prometheus metrics (/metrics) of the learner, with the actors' heartbeats\n${COMMON}`, options: { ...HTTP_OPT } },
  actor: { usage: `fedrl actor --id ID [--byzantine ATTACK] [--http PORT] [--config FILE] [--set k=v ...]\n  One actor over NATS; resumes <runDir>/<ID>-checkpoint if it exists.\n  --id ID                  actor id (letters, digits, '_' or '-')\n  --byzantine ATTACK       run as an adversary (robustness tests): ${ATTACKS.join(", ")}\n  --http PORT              this actor's dashboard (/) and Prometheus metrics (/metrics)\n${COMMON}`, options: { id: { type: "string" }, byzantine: { type: "string" }, ...HTTP_OPT } },
  "train-local": {
    usage: `fedrl train-local [--env ID] [--episodes N] [--steps N] [--target R] [--window W] [--seed S] [--run-dir DIR] [--config FILE] [--set k=v ...]\n  The local recipe with one actor on the step clock; checkpoint in <run-dir>/actor-0-checkpoint.\n  --env ID                 environment (default: the config's, CartPole-v1)\n  --episodes N / --steps N budget\n  --target R               stop once the mean over --window episodes reaches R\n  --seed S                 seed\n  --run-dir DIR            where metrics and the checkpoint go (default runs/local-<env>-<time>)\n${COMMON}`,
    options: { env: { type: "string" }, episodes: { type: "string" }, steps: { type: "string" }, target: { type: "string" }, window: { type: "string" }, seed: { type: "string" }, "run-dir": { type: "string" } },
  },
  "replay-clear": { usage: `fedrl replay-clear [--config FILE] [--set k=v ...]\n  Deletes the run's Redis replay (REDIS_URL or transport.redis).\n${COMMON}`, options: {} },
};

const USAGE = `usage: fedrl <command> [options]    (fedrl <command> --help for its options)
  run           train: embedded by default, processes over NATS+Redis when NATS_URL is set
  learner       the global learner / aggregator alone, until Ctrl-C
  actor         one actor
  train-local   one local actor, no network
  replay-clear  delete the run's Redis replay
Environment: NATS_URL, REDIS_URL select the distributed transports.`;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
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

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`--${flag}: not a number: ${v}`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const spec = COMMANDS[cmd];
  if (!spec) {
    log(`unknown command "${cmd}"\n${USAGE}`);
    return 2;
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest, strict: true,
      options: { config: { type: "string", short: "c" }, set: { type: "string", multiple: true }, help: { type: "boolean", short: "h" }, ...spec.options },
    }));
  } catch (e) {
    log(`${(e as Error).message}\nusage: ${spec.usage}`);
    return 2;
  }
  if (values.help) {
    console.log(`usage: ${spec.usage}`);
    return 0;
  }
  const configPath = values.config as string | undefined;
  const sets = (values.set as string[] | undefined) ?? [];
  if (values.http !== undefined) {
    const port = Number(values.http);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      log(`--http: expected a port number (0-65535), got "${values.http}"`);
      return 2;
    }
    sets.push(`http.port=${port}`);
  }
  if (cmd === "train-local") {
    const runDir = (values["run-dir"] as string | undefined) ?? join("runs", `local-${(values.env as string | undefined) ?? "CartPole-v1"}-${Date.now()}`);
    const { exp, summary } = await trainLocalCli({
      config: configPath, sets, env: values.env as string | undefined, seed: num(values.seed as string | undefined, "seed"), episodes: num(values.episodes as string | undefined, "episodes"),
      steps: num(values.steps as string | undefined, "steps"), target: num(values.target as string | undefined, "target"), window: num(values.window as string | undefined, "window"), runDir,
    }, log);
    const { returns: _r, ...rest2 } = summary;
    console.log(JSON.stringify({ runDir: runDirOf(exp), env: exp.env.id, ...rest2 }));
    return 0;
  }
  const exp = loadExperiment(configPath, sets);
  const ac = onSignals();
  switch (cmd) {
    case "run": {
      if (exp.transport.nats && !process.env.FEDRL_EMBEDDED) {
        log(`fedrl run: ${exp.mode} on ${exp.env.id}, ${exp.actors.count} actor processes + learner over NATS ${exp.transport.nats}${exp.transport.redis ? ` and Redis ${exp.transport.redis}` : ""}`);
        await runMultiProcess(exp, { configPath, sets, log, progress: log, signal: ac.signal });
        return 0;
      }
      log(`fedrl run: ${exp.mode} on ${exp.env.id} with ${exp.actors.count} actors in one process (${exp.transport.nats ? "NATS" : "in-process bus"}, ${exp.transport.redis ? "Redis" : "in-memory"} replay); metrics in ${runDirOf(exp)}/`);
      const summary = await runEmbedded(exp, { log, progress: log, signal: ac.signal, checkpoint: true });
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
      const attack = values.byzantine as string | undefined;
      if (attack !== undefined && !isAttack(attack)) throw new ConfigError(`--byzantine: unknown attack "${attack}"; valid: ${ATTACKS.join(", ")}`);
      const stats = await runActorProcess(exp, values.id as string, { log, signal: ac.signal, byzantine: attack });
      log(`actor ${values.id} done: ${JSON.stringify(stats)}`);
      return 0;
    }
    default: {
      if (!exp.transport.redis) throw new ConfigError("replay-clear needs REDIS_URL (or transport.redis)");
      const n = await clearRedisReplay(exp.transport.redis, exp.run);
      log(`cleared replay of run ${exp.run} (${n} keys)`);
      return 0;
    }
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/").split("/").pop()!);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      if (e instanceof HttpPortInUse) {
        log(`fedrl: ${e.message}`);
        process.exit(2);
      }
      log(e instanceof ConfigError ? `config error: ${e.message}` : `error: ${(e as Error)?.stack ?? e}`);
      process.exit(e instanceof ConfigError ? 2 : 1);
    },
  );
}
