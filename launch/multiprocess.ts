/**
 * `fedrl run` over NATS + Redis: the learner and N actors as child processes (killable one by
 * one), progress gathered from their heartbeats on the bus. The children run in their own process
 * group, so a terminal's Ctrl-C reaches only the launcher, which sends each child one SIGTERM:
 * the actors drain and checkpoint first, then the learner stops (and checkpoints).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { openBus } from "../transport/open";
import type { Experiment } from "./config";
import { actorId, type Log } from "./assemble";
import { hasServer, recipeOf } from "./recipes";
import { subjectsFor } from "../transport/subjects";
import { HttpPortInUse } from "./http";
import { progressLine, progressSink, type TtyLike } from "./progress";

const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));

export interface MultiProcessOptions {
  configPath?: string;
  sets: string[];
  log: Log;
  progress: (line: string) => void;
  signal: AbortSignal;
  /** As EmbeddedOptions.tty: on a terminal (default: stderr when a TTY and CI unset) the status line is redrawn in place, the children's lines above it. */
  tty?: TtyLike | false;
}

export function spawnComponent(args: string[], env: NodeJS.ProcessEnv, tag: string, log: Log): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const relay = (buf: Buffer) => {
    for (const line of buf.toString().split("\n")) if (line.trim()) log(`[${tag}] ${line}`);
  };
  child.stdout!.on("data", relay);
  child.stderr!.on("data", relay);
  return child;
}

/** Fails with HttpPortInUse when `port` cannot be listened on (checked before the children start). */
async function probePort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once("error", (e: NodeJS.ErrnoException) => reject(new HttpPortInUse(host, port, e.code === "EADDRINUSE" ? "address already in use" : e.code ?? e.message)));
    s.listen(port, host, () => s.close(() => resolve()));
  });
}

/** HTTP ports of the children: the learner on the base port, actor i on base + 1 + i (all 0: each picks a free one). */
export function childHttpPorts(exp: Experiment, withLearner: boolean): { learner: number | null; actors: number[] } | null {
  const base = exp.http.port;
  if (base === undefined) return null;
  const at = (k: number) => (base === 0 ? 0 : base + k);
  return { learner: withLearner ? at(0) : null, actors: Array.from({ length: exp.actors.count }, (_, i) => at(withLearner ? 1 + i : i)) };
}

const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

export async function runMultiProcess(exp: Experiment, opts: MultiProcessOptions): Promise<{ stopped: boolean }> {
  const sinks = progressSink(opts.log, opts.progress, opts.tty);
  const o = { ...opts, log: sinks.log };
  const common = [...(o.configPath ? ["--config", o.configPath] : []), ...o.sets.flatMap((s) => ["--set", s])];
  const withLearner = hasServer(recipeOf(exp.mode));
  const ports = childHttpPorts(exp, withLearner);
  const httpArgs = (port: number | null | undefined) => (port === null || port === undefined ? [] : ["--set", `http.port=${port}`]);
  if (ports) {
    for (const p of [ports.learner, ...ports.actors]) if (p !== null) await probePort(exp.http.host, p);
    const shown = exp.http.host === "0.0.0.0" ? "127.0.0.1" : exp.http.host;
    const a = ports.actors;
    o.log(`dashboards: ${ports.learner !== null ? `learner http://${shown}:${ports.learner}/ (the whole run), ` : ""}actors ${a.length > 0 && a[0] !== 0 ? `http://${shown}:${a[0]}/ … :${a[a.length - 1]}/` : "on free ports (see their lines)"}; Prometheus at /metrics on each`);
  }
  const env = { ...process.env, NATS_URL: exp.transport.nats, REDIS_URL: exp.transport.redis ?? "", FEDRL_CHILD: "1" };
  const bus = await openBus(exp.transport.nats, `fedrl-${exp.run}-launcher`);
  const subjects = subjectsFor(exp.run);
  const latest = new Map<string, Record<string, unknown>>();
  bus.subscribe(subjects.allMetrics, (m) => {
    try {
      latest.set(m.subject.slice(m.subject.lastIndexOf(".") + 1), JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>);
    } catch {
      /* a malformed heartbeat is only a missing progress line */
    }
  });
  const learner = !withLearner ? null : spawnComponent(["learner", ...common, ...httpArgs(ports?.learner)], env, "learner", o.log);
  const workerCount = recipeOf(exp.mode).learner ? exp.learner.ingest.workers : 0;
  const workers = Array.from({ length: workerCount }, (_, i) => spawnComponent(["ingest", "--index", String(i), ...common], env, `ingest-${i}`, o.log));
  if (learner) await new Promise((r) => setTimeout(r, 1500)); // let it (and the ingest workers) subscribe before actors publish
  const actors = Array.from({ length: exp.actors.count }, (_, i) => spawnComponent(["actor", "--id", actorId(exp, i), ...common, ...httpArgs(ports?.actors[i])], env, actorId(exp, i), o.log));
  const t0 = Date.now();
  const timer = setInterval(() => {
    const beats = Array.from({ length: exp.actors.count }, (_, i) => latest.get(actorId(exp, i))).filter((s): s is Record<string, unknown> => s !== undefined);
    if (!beats.length) return;
    const l = latest.get("learner");
    const tail = l ? `learner v${l.version} r${l.round} upd ${l.updates ?? "-"} replay ${(l.replay as { size?: number } | undefined)?.size ?? "-"} rej ${(l.rejected as { total?: number } | undefined)?.total ?? 0}` : "";
    const steps = beats.map((s) => Number(s.steps) || 0);
    sinks.progress!(progressLine(exp, {
      secs: (Date.now() - t0) / 1000, stepsPerActor: beats.length < exp.actors.count ? 0 : Math.min(...steps), episodesPerActor: Math.min(...beats.map((s) => Number(s.episodes) || 0)),
      startSteps: first ?? 0, totalSteps: steps.reduce((a, b) => a + b, 0) - (firstTotal ?? 0), mean100: beats.reduce((a, s) => a + (Number(s.mean100) || 0), 0) / beats.length, tail,
    }));
    first ??= Math.min(...steps);
    firstTotal ??= steps.reduce((a, b) => a + b, 0);
  }, sinks.every);
  let first: number | undefined, firstTotal: number | undefined;
  // One SIGTERM per child: the actors now; the learner once every actor has drained into it.
  const stopActors = () => {
    for (const c of actors) if (c.exitCode === null) c.kill("SIGTERM");
  };
  o.signal.addEventListener("abort", stopActors, { once: true });
  // A launcher killed outright takes its children with it (they are in their own group).
  const killAll = () => { for (const c of [...actors, ...workers, learner]) if (c && c.exitCode === null) c.kill("SIGKILL"); };
  process.once("exit", killAll);
  const codes = await Promise.all(actors.map(exited));
  // The actors drained into the ingest workers; they answer what is under way, then the learner stops.
  for (const w of workers) if (w.exitCode === null) w.kill("SIGTERM");
  const wcodes = await Promise.all(workers.map(exited));
  if (learner && learner.exitCode === null) learner.kill("SIGTERM");
  const lcode = learner ? await exited(learner) : 0;
  process.off("exit", killAll);
  clearInterval(timer);
  sinks.done();
  await bus.close();
  const ingestNote = workers.length ? `; ingest workers with ${wcodes.join(", ")}` : "";
  o.log(`actors exited with ${codes.join(", ")}${ingestNote}; learner with ${lcode}`);
  if (codes.some((c) => c !== 0) || wcodes.some((c) => c !== 0) || lcode !== 0) throw new Error(`a component failed (actors exited with ${codes.join(", ")}${ingestNote}, learner with ${lcode}; see their lines above)`);
  return { stopped: o.signal.aborted };
}
