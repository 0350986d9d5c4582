/**
 * fedrl command line. Every command has its own --help; every training command takes the same
 * `--config FILE` and `--set key.path=value`. A mistake the user can fix is one line (cause and
 * fix) and exit 2; the stack trace only with --debug.
 */
import { authInitCli } from "./auth";
import { redactUrl } from "../transport/nats-auth";
import { ATTACKS, isAttack } from "../federation/byzantine";
import { parseArgs } from "node:util";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import * as tf from "@tensorflow/tfjs";
import { ConfigError, loadExperiment, runDirOf, type Experiment } from "./config";
import { runEmbedded } from "./embedded";
import { runLearnerProcess, runActorProcess, runIngestProcess } from "./processes";
import { runMultiProcess } from "./multiprocess";
import { trainLocalCli } from "./train-local";
import { RECIPES } from "./recipes";
import { clearRedisReplay } from "../transport/open";
import { describeError, UsageError, UserError } from "./errors";
import { newRun, resumeRun, updateRecord } from "./rundir";
import { checkServices, validateExperiment } from "./preflight";
import { evalCommand } from "./eval-cli";
import { plotRun } from "./plot";
import { exportCheckpoint } from "./export";
import { explainCommand } from "./explain";
import { serveCommand } from "./serve";
import { clockNotice } from "./progress";
import { replicaIndex } from "./replica";
import { actorId } from "./assemble";

// tfjs's "Hi, looks like you are running TensorFlow.js in Node.js" banner and other dev-mode chatter.
tf.env().set("PROD", true);

export const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

type Opt = { type: "string" | "boolean"; short?: string; multiple?: boolean; arg?: string; help: string };
interface Command {
  name: string;
  summary: string;
  synopsis: string;
  /** Extra lines under the synopsis. */
  about?: string;
  options: Record<string, Opt>;
  /** Positional arguments allowed (names, for the usage line). */
  positionals?: number;
  config?: boolean;
}

const CONFIG_OPTS: Record<string, Opt> = {
  config: { type: "string", short: "c", arg: "FILE", help: "experiment YAML (configs/*.yaml); defaults when omitted" },
  set: { type: "string", multiple: true, arg: "key.path=value", help: "override one config value (repeatable), e.g. --set agent.lr=1e-3" },
};
const ALWAYS: Record<string, Opt> = {
  debug: { type: "boolean", help: "print stack traces of errors" },
  help: { type: "boolean", short: "h", help: "this help" },
};
const HTTP: Opt = { type: "string", arg: "PORT", help: "live dashboard on http://127.0.0.1:PORT/ and Prometheus metrics on /metrics (config http.port, http.host)" };
const RESUME: Opt = { type: "string", arg: "DIR", help: "continue the run in DIR (its saved config, then --set); a finished run says so and exits 0" };

const COMMANDS: Command[] = [
  {
    name: "run", summary: "train: in one process by default, as processes over NATS + Redis when NATS_URL is set",
    synopsis: "fedrl run [--config FILE] [--set k=v ...] [--resume DIR] [--http PORT]",
    about: `Modes (config 'mode'): ${Object.values(RECIPES).map((r) => `${r.name}: ${r.summary}`).join("; ")}.\nA new run writes runs/<run>-<time>/ (never an existing run's folder); Ctrl-C drains and checkpoints, twice forces.`,
    options: { resume: RESUME, http: { ...HTTP, help: `${HTTP.help}; with processes: the learner on PORT, actor i on PORT+1+i` } }, config: true,
  },
  {
    name: "learner", summary: "the global learner / aggregator alone (containers), until Ctrl-C",
    synopsis: "fedrl learner [--config FILE] [--set k=v ...] [--http PORT]",
    about: "The recipe's server side over NATS (+ Redis for hybrid); resumes <runDir>/learner-checkpoint if it exists.",
    options: { http: HTTP }, config: true,
  },
  {
    name: "ingest", summary: "one ingest worker of a hybrid run (learner.ingest.workers; containers), until Ctrl-C",
    synopsis: "fedrl ingest [--index I] [--config FILE] [--set k=v ...]",
    about: "Decodes, validates, trust-gates and filters the actors' batches into the run's Redis replay, one of a NATS queue group; the learner (with learner.ingest.workers > 0) then only samples and trains. I defaults to $FEDRL_INGEST_INDEX, then to a compose replica's index, then 0.",
    options: { index: { type: "string", arg: "I", help: "this worker's index (0-based): names its heartbeat and seeds its filter reservoir" } }, config: true,
  },
  {
    name: "actor", summary: "one actor (containers)",
    synopsis: "fedrl actor --id ID [--config FILE] [--set k=v ...] [--byzantine ATTACK] [--http PORT]",
    about: "One actor over NATS; resumes <runDir>/<ID>-checkpoint if it exists. ID defaults to $FEDRL_ACTOR_ID, then to actor-<i> from a compose replica's index.",
    options: { id: { type: "string", arg: "ID", help: "actor id (letters, digits, '_' or '-'); <idPrefix>-<i> takes site i" }, byzantine: { type: "string", arg: "ATTACK", help: `run as an adversary (robustness tests): ${ATTACKS.join(", ")}` }, http: HTTP }, config: true,
  },
  {
    name: "train-local", summary: "one local actor, no network, on the step clock",
    synopsis: "fedrl train-local [--env ID] [--episodes N] [--steps N] [--target R] [--window W] [--seed S] [--run-dir DIR | --resume DIR] [--config FILE] [--set k=v ...]",
    about: "The local recipe with one actor on the step clock; checkpoint in <run-dir>/actor-0-checkpoint.",
    options: {
      env: { type: "string", arg: "ID", help: "environment (default: the config's, CartPole-v1)" },
      episodes: { type: "string", arg: "N", help: "episode budget" },
      steps: { type: "string", arg: "N", help: "env step budget" },
      target: { type: "string", arg: "R", help: "stop once the mean over --window episodes reaches R" },
      window: { type: "string", arg: "W", help: "episodes in the mean (default 100)" },
      seed: { type: "string", arg: "S", help: "seed" },
      "run-dir": { type: "string", arg: "DIR", help: "where metrics and the checkpoint go (default runs/local-<env>-<time>; an existing run's folder gets a suffix)" },
      resume: RESUME,
    }, config: true,
  },
  { name: "replay-clear", summary: "delete the run's Redis replay", synopsis: "fedrl replay-clear [--config FILE] [--set k=v ...]", about: "Deletes the run's Redis replay (REDIS_URL or transport.redis).", options: {}, config: true },
  { name: "config", summary: "print the effective config (after --set) as YAML", synopsis: "fedrl config print [--config FILE] [--set k=v ...] [--json]", options: { json: { type: "boolean", help: "JSON instead of YAML" } }, positionals: 1, config: true },
  {
    name: "eval", summary: "greedy evaluation of a checkpoint",
    synopsis: "fedrl eval --checkpoint DIR [--episodes N] [--seed S] [--env ID] [--json]",
    about: "DIR is an agent checkpoint (runs/<run>/learner-checkpoint, …/actor-0-checkpoint) or a run folder (its global or first actor's model).\nPrints mean ± std of greedy returns as a table, or JSON with --json.\nIoTIntrusion-v0: also the policy as a detector on held-out traffic of every site of the run (seeds no actor trains on; CSV sources: the split training did not use): a pooled row and one per site with accuracy, precision, recall, F1, FPR, ROC-AUC, PR-AUC, TPR at FPR 1 %, damage / benign flows lost / escalations per 1,000 flows, worst-site and device-type F1 gaps.",
    options: {
      checkpoint: { type: "string", arg: "DIR", help: "checkpoint or run folder" },
      episodes: { type: "string", arg: "N", help: "episodes (default: the run's eval.episodes, else 10); IoTIntrusion-v0: also the held-out episodes per site" },
      seed: { type: "string", arg: "S", help: "first episode seed (default: the run's eval.seed); IoTIntrusion-v0: held-out seeds count up from it" },
      env: { type: "string", arg: "ID", help: "environment (default: the run's)" },
      json: { type: "boolean", help: "print JSON only" },
    }, config: true,
  },
  {
    name: "plot", summary: "learning curves of a run as SVG and PNG",
    synopsis: "fedrl plot RUN_DIR [--out DIR]",
    about: "Per-actor mean-100 return, the global greedy eval, learner loss, filter accept rate, trust weights per round.",
    options: { out: { type: "string", arg: "DIR", help: "where curves.svg / curves.png go (default RUN_DIR)" } }, positionals: 1,
  },
  {
    name: "export", summary: "a checkpoint as a tfjs layers model plus weights JSON",
    synopsis: "fedrl export --checkpoint DIR --out DIR",
    about: "Writes model.json + weights.bin (load with tf.loadLayersModel('file://…/model.json')) and weights.json (layout and values, documented in the file).",
    options: { checkpoint: { type: "string", arg: "DIR", help: "checkpoint or run folder" }, out: { type: "string", arg: "DIR", help: "output folder" } },
  },
  {
    name: "explain", summary: "why an IoT intrusion policy decides as it does (integrated gradients, permutation importance)",
    synopsis: "fedrl explain --checkpoint DIR [--env IoTIntrusion-v0] [--flows N] [--out DIR] [--baseline KIND] [--repeats R] [--seed S]",
    about: "Runs the greedy policy on the run's held-out set (as fedrl eval: every site, env seeds the actors never trained on) and explains each decision's score against a baseline observation.\nWrites DIR/explain.json (per decision and per field, global and per attack family) and importance.svg/.png (default DIR: <checkpoint>/explain).",
    options: {
      checkpoint: { type: "string", arg: "DIR", help: "checkpoint or run folder" },
      env: { type: "string", arg: "ID", help: "environment (default: the run's; must be IoTIntrusion-v0)" },
      flows: { type: "string", arg: "N", help: "held-out decisions to explain (default 1000)" },
      out: { type: "string", arg: "DIR", help: "output folder (default <checkpoint>/explain)" },
      baseline: { type: "string", arg: "KIND", help: "integrated-gradient baseline: benign-mean (default: the mean benign observation) or zeros" },
      repeats: { type: "string", arg: "R", help: "shuffles per field for permutation importance (default 5)" },
      seed: { type: "string", arg: "S", help: "first env seed of the held-out search (default: the run's eval.seed; seeds the actors trained on are skipped)" },
    }, config: true,
  },
  {
    name: "serve", summary: "a policy behind HTTP: POST /predict, POST /explain, GET /healthz, GET /metrics",
    synopsis: "fedrl serve --checkpoint DIR --port PORT [--host HOST] [--env ID]",
    about: "Bodies: {observations: number[][]} or, for IoTIntrusion-v0, {flows: [raw flow records]} (launch/serve.ts, envs/iot/serving.ts). Ctrl-C closes it.",
    options: {
      checkpoint: { type: "string", arg: "DIR", help: "checkpoint or run folder" },
      port: { type: "string", arg: "PORT", help: "port to listen on (0 = any free port)" },
      host: { type: "string", arg: "HOST", help: "address to listen on (default 127.0.0.1)" },
      env: { type: "string", arg: "ID", help: "environment (default: the run's)" },
    }, config: true,
  },
];
const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));

export const USAGE = `usage: fedrl <command> [options]    (fedrl <command> --help for its options)\n${COMMANDS.map((c) => `  ${c.name.padEnd(13)} ${c.summary}`).join("\n")}\n  auth init     NATS identities and permissions for a run (fedrl auth init --help)\n  --version     print the version\nEnvironment: NATS_URL, REDIS_URL select the distributed transports; FEDRL_DEBUG=1 is --debug.`;

function optionsOf(c: Command): Record<string, Opt> {
  return { ...c.options, ...(c.config ? CONFIG_OPTS : {}), ...ALWAYS };
}

export function helpOf(c: Command): string {
  const opts = optionsOf(c);
  const lines = Object.entries(opts).map(([k, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${k}${o.arg ? ` ${o.arg}` : ""}`;
    return `  ${flag.padEnd(28)} ${o.help}`;
  });
  return `usage: ${c.synopsis}\n  ${c.summary}${c.about ? `\n  ${c.about.replace(/\n/g, "\n  ")}` : ""}\noptions:\n${lines.join("\n")}`;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** First SIGINT/SIGTERM: drain and checkpoint; a second one forces (exit 130). */
function onSignals(): AbortController {
  const ac = new AbortController();
  let n = 0;
  const handler = (sig: string) => {
    n++;
    if (n === 1) {
      log(`${sig}: draining and checkpointing (again to force quit)`);
      ac.abort();
    } else {
      log(`${sig} again: forced quit, checkpoints may be missing`);
      process.exit(130);
    }
  };
  process.on("SIGINT", () => handler("SIGINT"));
  process.on("SIGTERM", () => handler("SIGTERM"));
  return ac;
}

function num(v: unknown, flag: string, usage: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${flag}: expected a number, got "${v}"`, usage);
  return n;
}

let debug = !!process.env.FEDRL_DEBUG;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === "--version" || cmd === "-V" || cmd === "version") {
    console.log(`fedrl ${VERSION} (node ${process.versions.node})`);
    return 0;
  }
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    const sub = cmd === "help" && rest[0] ? BY_NAME.get(rest[0]) : undefined;
    console.log(sub ? helpOf(sub) : USAGE);
    return 0;
  }
  if (!cmd) {
    log(USAGE);
    return 2;
  }
  // `fedrl auth init …` parses its own options (launch/auth.ts).
  if (cmd === "auth") return authInitCli(rest);
  const spec = BY_NAME.get(cmd);
  if (!spec) {
    log(`fedrl: unknown command "${cmd}"${cmd.startsWith("-") ? "" : ""}\n${USAGE}`);
    return 2;
  }
  const usage = helpOf(spec);
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    const options = Object.fromEntries(Object.entries(optionsOf(spec)).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]));
    const parsed = parseArgs({ args: rest, strict: true, allowPositionals: (spec.positionals ?? 0) > 0, options });
    values = parsed.values as typeof values;
    positionals = parsed.positionals;
  } catch (e) {
    log(`fedrl ${cmd}: ${(e as Error).message.split("\n")[0]}\n${usage}`);
    return 2;
  }
  if (values.debug) debug = true;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length > (spec.positionals ?? 0)) throw new UsageError(`fedrl ${cmd}: unexpected argument "${positionals[spec.positionals ?? 0]}"`, usage);
  const configPath = values.config as string | undefined;
  const sets = [...((values.set as string[] | undefined) ?? [])];
  if (values.http !== undefined) {
    const port = Number(values.http);
    if (!/^\d+$/.test(String(values.http)) || port > 65535) throw new UsageError(`--http: expected a port number (0-65535), got "${values.http}"`, usage);
    sets.push(`http.port=${port}`);
  }
  switch (cmd) {
    case "config": {
      if (positionals[0] !== "print") throw new UsageError(`fedrl config: expected "print"${positionals[0] ? `, got "${positionals[0]}"` : ""}`, usage);
      const exp = loadExperiment(configPath, sets);
      process.stdout.write(values.json ? `${JSON.stringify(exp, null, 2)}\n` : toYaml(exp));
      return 0;
    }
    case "eval":
      return evalCommand({ checkpoint: values.checkpoint as string | undefined, episodes: num(values.episodes, "episodes", usage), seed: num(values.seed, "seed", usage), env: values.env as string | undefined, json: !!values.json, config: configPath, sets }, usage, log);
    case "plot": {
      if (!positionals[0]) throw new UsageError("fedrl plot: which run folder? e.g. fedrl plot runs/cartpole-hybrid-20260101-120000", usage);
      const files = await plotRun(positionals[0], (values.out as string | undefined) ?? positionals[0]);
      console.log(files.join("\n"));
      return 0;
    }
    case "explain":
      return explainCommand({ checkpoint: values.checkpoint as string | undefined, env: values.env as string | undefined, flows: num(values.flows, "flows", usage), out: values.out as string | undefined, seed: num(values.seed, "seed", usage), baseline: values.baseline as string | undefined, repeats: num(values.repeats, "repeats", usage), config: configPath, sets }, usage, log);
    case "serve":
      return serveCommand({ checkpoint: values.checkpoint as string | undefined, port: values.port as string | undefined, host: values.host as string | undefined, env: values.env as string | undefined, config: configPath, sets }, usage, log);
    case "export": {
      if (!values.checkpoint || !values.out) throw new UsageError("fedrl export needs --checkpoint DIR and --out DIR", usage);
      const files = await exportCheckpoint(values.checkpoint as string, values.out as string);
      console.log(files.join("\n"));
      return 0;
    }
    case "train-local": {
      const steps = num(values.steps, "steps", usage), episodes = num(values.episodes, "episodes", usage);
      const flags = { env: values.env as string | undefined, seed: num(values.seed, "seed", usage), episodes, steps, target: num(values.target, "target", usage), window: num(values.window, "window", usage) };
      const resume = values.resume as string | undefined;
      if (resume && values["run-dir"]) throw new UsageError("train-local: --resume DIR continues DIR; --run-dir does not go with it", usage);
      const out = await trainLocalCli({ config: configPath, sets, ...flags, runDir: values["run-dir"] as string | undefined, resume }, log);
      if (!out) return 0;
      const { exp, summary } = out;
      const { returns: _r, ...rest2 } = summary;
      console.log(JSON.stringify({ runDir: runDirOf(exp), env: exp.env.id, ...rest2 }));
      return 0;
    }
  }
  let exp: Experiment;
  let resumed = false;
  if (cmd === "run" && values.resume) {
    const r = resumeRun(values.resume as string, sets);
    if (r.finished) {
      log(`fedrl run: ${values.resume} already finished (${r.finished.steps ?? "?"} steps per actor); nothing to do. To train further: --resume ${values.resume} --set budget.stepsPerActor=N`);
      return 0;
    }
    exp = r.exp;
    resumed = true;
    if (process.env.NATS_URL) exp.transport.nats = process.env.NATS_URL;
    if (process.env.REDIS_URL) exp.transport.redis = process.env.REDIS_URL;
  } else exp = loadExperiment(configPath, sets);
  if (cmd === "actor" && !values.id) values.id = process.env.FEDRL_ACTOR_ID || undefined;
  if (cmd === "actor" && !values.id) {
    const i = await replicaIndex();
    if (i !== null) {
      values.id = actorId(exp, i);
      log(`actor id ${values.id} (compose replica ${i + 1})`);
    }
  }
  if (cmd === "actor" && !values.id) throw new UsageError("fedrl actor needs --id ID (or FEDRL_ACTOR_ID; under docker compose the replica index gives actor-<i>)", usage);
  if (cmd === "actor" && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(values.id as string)) throw new UsageError(`--id "${values.id}": letters, digits, '_' or '-' (1-64 chars)`, usage);
  const attack = values.byzantine as string | undefined;
  if (attack !== undefined && !isAttack(attack)) throw new UsageError(`--byzantine: unknown attack "${attack}"; valid: ${ATTACKS.join(", ")}`, usage);
  if (cmd === "replay-clear") {
    if (!exp.transport.redis) throw new UserError("replay-clear needs REDIS_URL (or transport.redis)");
    await checkServices(exp);
    const n = await clearRedisReplay(exp.transport.redis, exp.run);
    log(`cleared replay of run ${exp.run} (${n} keys)`);
    return 0;
  }
  // Everything a user can get wrong is checked before a folder is created or a child started.
  validateExperiment(exp, configPath ?? "config");
  await checkServices(exp, cmd !== "actor");
  const ac = onSignals();
  switch (cmd) {
    case "run": {
      if (!resumed && !process.env.FEDRL_CHILD) exp = newRun(exp, "run");
      const dir = runDirOf(exp);
      if (exp.transport.nats && !process.env.FEDRL_EMBEDDED) {
        log(`fedrl run: ${exp.mode} on ${exp.env.id}, ${exp.actors.count} actor processes + learner over NATS ${redactUrl(exp.transport.nats)}${exp.transport.redis ? ` and Redis ${redactUrl(exp.transport.redis)}` : ""}; ${resumed ? "resuming" : "run"} ${dir}/; ${clockNotice(exp)}`);
        const { stopped } = await runMultiProcess(exp, { configPath: join(dir, "config.json"), sets: [], log, progress: log, signal: ac.signal });
        updateRecord(exp, { status: stopped ? "stopped" : "finished" });
        return 0;
      }
      log(`fedrl run: ${exp.mode} on ${exp.env.id} with ${exp.actors.count} actors in one process (${exp.transport.nats ? "NATS" : "in-process bus"}, ${exp.transport.redis ? "Redis" : "in-memory"} replay); ${resumed ? "resuming" : "metrics in"} ${dir}/; ${clockNotice(exp)}`);
      const summary = await runEmbedded(exp, { log, progress: log, signal: ac.signal, checkpoint: true, resume: resumed });
      mkdirSync(dir, { recursive: true });
      const path = join(dir, "summary.json");
      writeFileSync(path, JSON.stringify({ ...summary, actors: summary.actors.map(({ returns, ...a }) => ({ ...a, lastReturns: returns.slice(-10) })) }, null, 2));
      const steps = Math.min(...summary.actors.map((a) => a.steps));
      updateRecord(exp, { status: ac.signal.aborted ? "stopped" : "finished", steps, episodes: Math.min(...summary.actors.map((a) => a.episodes)) });
      log(`done in ${summary.wallSeconds.toFixed(1)} s: actors' mean-100 ${summary.actors.map((a) => a.mean100.toFixed(1)).join(", ")}; greedy eval of the ${exp.mode === "local" ? "actors' models" : "global model"} ${summary.eval.mean.toFixed(1)} ± ${summary.eval.std.toFixed(1)}; summary in ${path}`);
      log(ac.signal.aborted ? `stopped; continue with: fedrl run --resume ${dir}` : `next: fedrl eval --checkpoint ${dir} · fedrl plot ${dir}`);
      return 0;
    }
    case "learner":
      await runLearnerProcess(exp, { log, signal: ac.signal });
      return 0;
    case "ingest": {
      const fromEnv = process.env.FEDRL_INGEST_INDEX;
      const index = num(values.index, "index", usage) ?? (fromEnv ? Number(fromEnv) : await replicaIndex("ingest")) ?? 0;
      if (!Number.isInteger(index) || index < 0) throw new UsageError(`--index (or FEDRL_INGEST_INDEX): expected a whole number ≥ 0, got "${values.index ?? fromEnv}"`, usage);
      await runIngestProcess(exp, index, { log, signal: ac.signal });
      return 0;
    }
    default: {
      const stats = await runActorProcess(exp, values.id as string, { log, signal: ac.signal, byzantine: attack as never });
      log(`actor ${values.id} done: ${JSON.stringify(stats)}`);
      return 0;
    }
  }
}

export function report(e: unknown): number {
  const { line, code } = describeError(e);
  log(line.startsWith("fedrl") || line.startsWith("config error") ? line : `fedrl: ${line}`);
  if (e instanceof UsageError) log(e.usage);
  if (debug && e instanceof Error && e.stack) log(e.stack);
  return code;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/").split("/").pop()!);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => process.exit(report(e)),
  );
}
