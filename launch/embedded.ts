/**
 * The whole topology in one process: `npm start`, tests and benchmarks. Uses NATS/Redis when the
 * experiment names them, otherwise the in-process bus and in-memory replay. With `clock: steps`
 * every timer is driven by env steps (per actor), so results do not depend on machine speed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StepClock, WallClock, type Clock } from "../core/clock";
import { JsonlMetrics, TeeMetrics, type MetricsSink } from "../core/metrics";
import type { Actor, ActorState } from "../nodes/actor";
import type { Agent } from "../core/agent";
import type { Learner, LearnerSnapshot } from "../nodes/learner";
import type { GlobalSnapshot } from "../nodes/global";
import type { AggregationSnapshot } from "../nodes/aggregation";
import type { StepClockSnapshot } from "../core/clock";
import type { Bus } from "../core/bus";
import { openBus } from "../transport/open";
import { norm } from "../core/vec";
import { actorIndex, assemble, attackOf, runReplay, type Log, type Server } from "./assemble";
import { decodeState, encodeState } from "./checkpoints";
import { runDirOf, type Experiment } from "./config";
import { evaluateGreedy } from "./eval";
import type { DetectionPoint } from "./detection";
import { startHttp, type HttpServer } from "./http";
import { RunMetrics } from "./prom";
import { progressLine, progressSink, type TtyLike } from "./progress";

export interface RunSummary {
  mode: string;
  env: string;
  wallSeconds: number;
  actors: { id: string; steps: number; episodes: number; mean100: number; returns: number[]; globalVersion: number; bytesSent: number; batchesSent: number; weightsSent: number; updates: number }[];
  /** The hybrid learner's counters. */
  learner?: Awaited<ReturnType<Learner["stats"]>>;
  /** The server side (hybrid and fedavg): rounds, global version, what was published. */
  server?: { rounds: number; version: number; published: number; publishedBytes: number };
  /** Per client over the aggregation rounds: mean weight, rounds it was used in, rounds judged, whether it was configured Byzantine, why it was left out. */
  aggregation?: { rule: string; refusedRounds: number; clients: Record<string, { meanWeight: number; usedRounds: number; rounds: number; byzantine: string | null; reasons: Record<string, number> }> };
  /** Rows each client got into the shared replay, and rows its refused batches held (gated, quota, bounds), with its final trust. */
  replayByActor?: Record<string, { accepted: number; gated: number; quota: number; evicted: number; trust: number }>;
  /** The global model at the end. */
  globalModel?: { finite: boolean; norm: number };
  /** Greedy evaluation of the global model (hybrid/fedavg) or of the actors' own models averaged (local). */
  eval: { mean: number; std: number };
  /** IoTIntrusion-v0: the global model's held-out detection metrics after aggregation rounds (eval.detection; launch/detection.ts). */
  detection?: DetectionPoint[];
  /** First (actor-mean of mean-`window`) crossing of budget.targetReturn. */
  reached: { episodesPerActor: number; stepsPerActor: number } | null;
  /** Mean over actors of their mean-`window` return, after every finished episode round. */
  curve: { episodesPerActor: number; stepsPerActor: number; mean: number }[];
}

export interface EmbeddedOptions {
  log?: Log;
  /** Called every ~2 s with a status line (≤ 120 columns: % of budget, rate, ETA). */
  progress?: (line: string) => void;
  /**
   * With `progress` given and this stream a terminal (default: process.stderr when it is a TTY and
   * CI is unset), the status line is redrawn in place on it every second instead of calling
   * `progress`, and `log` lines are written above it; `false` always calls `progress`.
   */
  tty?: TtyLike | false;
  /** Resolves/aborts the run early (Ctrl-C). */
  signal?: AbortSignal;
  /** Write JSONL metrics under the run directory (default true). */
  writeMetrics?: boolean;
  /** Extra sink (tests, benchmarks). */
  metrics?: MetricsSink;
  /** Env steps per actor between yields to the event loop. */
  chunk?: number;
  /**
   * Checkpoint under the run directory, every learner.checkpoint period and at the end: each actor's
   * agent, local replay and state (<actor>-checkpoint), the learner's model (learner-checkpoint/model),
   * the loop's own state (run-state.json).
   */
  checkpoint?: boolean;
  /**
   * Continue from the run directory's checkpoints (written with `checkpoint`). On the step clock with
   * the in-process bus and the memory replay, every mode (local, hybrid, fedavg) continues bit for bit.
   */
  resume?: boolean;
  /** With exp.http.port set: called with the dashboard URL once the HTTP server listens. */
  onHttp?: (url: string) => void;
}

/** Has an actor (or the slowest of a group) used up its budget? */
export function budgetSpent(exp: Experiment, steps: number, episodes: number, startedAt: number): boolean {
  const b = exp.budget;
  return (b.stepsPerActor > 0 && steps >= b.stepsPerActor) || (b.episodesPerActor > 0 && episodes >= b.episodesPerActor) || (b.seconds > 0 && Date.now() - startedAt >= b.seconds * 1000);
}

export async function runEmbedded(exp: Experiment, opts: EmbeddedOptions = {}): Promise<RunSummary> {
  const sinks = progressSink(opts.log ?? (() => {}), opts.progress, opts.tty);
  const log = sinks.log;
  const t0 = Date.now();
  const runDir = runDirOf(exp);
  // The HTTP endpoint first: a port in use fails the run before anything else starts.
  const prom = exp.http.port !== undefined ? new RunMetrics({ run: exp.run, role: "embedded", mode: exp.mode, env: exp.env.id }) : null;
  let http: HttpServer | null = null;
  if (prom) {
    try {
      http = await startHttp(prom, { port: exp.http.port!, host: exp.http.host, log });
    } catch (e) {
      prom.close();
      throw e;
    }
    log(`dashboard ${http.url} · Prometheus ${http.url}metrics`);
    opts.onHttp?.(http.url);
  }
  // Resuming: metrics written after the last checkpoint (the stopping run's drain and final publish)
  // are cut, so the files continue as the uninterrupted run's would.
  if (opts.resume) truncateMetrics(runDir);
  const sink = (component: string): MetricsSink => {
    const sinks: MetricsSink[] = [];
    if (opts.writeMetrics ?? true) sinks.push(new JsonlMetrics(join(runDir, `${component}.jsonl`), component));
    if (opts.metrics) sinks.push(opts.metrics);
    if (prom) sinks.push(prom.sink());
    return new TeeMetrics(sinks);
  };
  const clock: Clock = exp.clock === "steps" ? new StepClock() : new WallClock((n, e) => log(`timer ${n} failed: ${(e as Error)?.message ?? e}`));
  let bus: Awaited<ReturnType<typeof openBus>>;
  try {
    bus = await openBus(exp.transport.nats, `fedrl-${exp.run}-embedded`, log);
  } catch (e) {
    await http?.close();
    prom?.close();
    throw e;
  }
  const replay = runReplay(exp);
  const ids = Array.from({ length: exp.actors.count }, (_, i) => `${exp.actors.idPrefix}-${i}`);
  let topo: Awaited<ReturnType<typeof assemble>> | null = null;
  try {
    topo = await assemble(exp, {
      bus, clock, log, metrics: sink,
      replay: prom ? async (space) => prom.instrumentReplay(await replay.open(space)) : replay.open,
    }, { actors: ids, server: true });
    const { actors, agents, server } = topo;
    let loop: LoopState = { curve: [], reached: null, lastEpisodes: 0 };
    const resumed = opts.resume ? await restoreRun(runDir, actors, agents, server, log) : null;
    if (resumed) loop = resumed.loop;
    prom?.attach({ actors, server, bus });
    for (const a of actors) await a.start();
    await server?.start();
    await bus.flush();
    if (resumed) await resumed.afterStart(clock);

    const chunk = opts.chunk ?? 10;
    const { budget } = exp;
    const curve: RunSummary["curve"] = loop.curve;
    let reached: RunSummary["reached"] = loop.reached;
    let lastEpisodes = loop.lastEpisodes;
    const startSteps = Math.min(...actors.map((a) => a.steps)), startEpisodes = Math.min(...actors.map((a) => a.episodes));
    const startTotal = actors.reduce((s, a) => s + a.steps, 0);
    const every = exp.clock === "steps" ? exp.learner.checkpoint.steps : exp.learner.checkpoint.ms;
    let nextCheckpoint = exp.clock === "steps" ? loop.nextCheckpoint ?? startSteps + every : Date.now() + every;
    const save = (owed: number) => saveRun(runDir, actors, agents, server, bus, clock, { curve, reached, lastEpisodes, owed, nextCheckpoint });
    let lastProgress = Date.now();
    let lastYield = Date.now();
    const stepsDone = () => Math.min(...actors.map((a) => a.steps));
    const meanOfMeans = () => actors.reduce((s, a) => s + (Number.isNaN(a.meanReturn(budget.window)) ? 0 : a.meanReturn(budget.window)), 0) / actors.length;
    for (;;) {
      // An actor whose shipped batches are not acknowledged (learner's replay down) steps fewer or
      // none (back-pressure); the step clock advances by the steps actually taken.
      let took = 0;
      for (const a of actors) took = Math.max(took, a.stepMany(chunk));
      if (clock instanceof StepClock) await bus.flush();
      const episodesPerActor = Math.min(...actors.map((a) => a.episodes));
      if (episodesPerActor > lastEpisodes) {
        lastEpisodes = episodesPerActor;
        const mean = meanOfMeans();
        curve.push({ episodesPerActor, stepsPerActor: stepsDone(), mean });
        if (!reached && budget.targetReturn !== undefined && actors.every((a) => a.returns.length >= Math.min(budget.window, 10)) && mean >= budget.targetReturn) {
          reached = { episodesPerActor, stepsPerActor: stepsDone() };
          log(`target ${budget.targetReturn} reached at ${episodesPerActor} episodes per actor`);
        }
      }
      const done = opts.signal?.aborted || budgetSpent(exp, stepsDone(), episodesPerActor, t0) ||
        (reached !== null && (budget.stopAtTarget || (budget.stepsPerActor === 0 && budget.episodesPerActor === 0)));
      // Checkpoints are taken here, after the steps and their messages, before the step clock fires
      // the timers those steps make due (nothing is in flight then; the advance is saved as owed and
      // a resume makes it first). The last one is taken here too, before stopping: stopping ships
      // partial batches and publishes, which the continued run must not see.
      const due = opts.checkpoint && (exp.clock === "steps" ? stepsDone() : Date.now()) >= nextCheckpoint;
      if (due) nextCheckpoint += every;
      if (opts.checkpoint && (due || done)) await save(clock instanceof StepClock ? took * exp.env.numEnvs : 0);
      if (clock instanceof StepClock) {
        if (took > 0) await clock.advance(took * exp.env.numEnvs);
        else await new Promise((r) => setTimeout(r, 10)); // all paused: let acknowledgements (I/O) in
      } else await new Promise((r) => setImmediate(r));
      // On the step clock with the in-process bus nothing above waits for I/O: let HTTP requests in.
      if (http && Date.now() - lastYield >= 50) {
        lastYield = Date.now();
        await new Promise((r) => setImmediate(r));
      }
      if (Date.now() - lastProgress >= sinks.every) {
        lastProgress = Date.now();
        const secs = (Date.now() - t0) / 1000;
        sinks.progress?.(progressLine(exp, {
          secs, stepsPerActor: stepsDone(), episodesPerActor, startSteps, startEpisodes, totalSteps: actors.reduce((s, a) => s + a.steps, 0) - startTotal,
          mean100: actors.reduce((s, a) => s + a.meanReturn(100), 0) / actors.length, tail: await serverTail(server),
        }));
      }
      if (done) break;
    }
    for (const a of actors) await a.stop();
    await bus.flush();
    await server?.stop();
    let evalResult: { mean: number; std: number };
    if (server?.agent) evalResult = evaluateGreedy(server.agent, exp);
    else if (server) {
      const g = topo.globalAgent()!;
      evalResult = evaluateGreedy(g, exp);
      g.dispose();
    } else {
      const per = agents.map((a) => evaluateGreedy(a, exp));
      evalResult = exp.eval.episodes > 0 ? { mean: per.reduce((s, r) => s + r.mean, 0) / per.length, std: per.reduce((s, r) => s + r.std, 0) / per.length } : { mean: NaN, std: NaN };
    }
    const links = server?.link.stats();
    return {
      mode: exp.mode, env: exp.env.id, wallSeconds: (Date.now() - t0) / 1000,
      actors: actors.map((a, i) => {
        const s = a.stats();
        return { updates: agents[i]!.progress().updates, id: a.id, steps: a.steps, episodes: a.episodes, mean100: a.meanReturn(100), returns: a.returns.slice(), globalVersion: a.globalVersion, bytesSent: s.bytesSent, batchesSent: s.batchesSent, weightsSent: s.weightsSent };
      }),
      learner: server?.learner ? await server.learner.stats() : undefined,
      server: server && links ? { rounds: server.global.round, version: server.global.version, published: links.published, publishedBytes: links.publishedBytes } : undefined,
      eval: evalResult, reached, curve,
      ...(server?.detection.length ? { detection: server.detection.slice() } : {}),
      ...robustnessSummary(exp, server),
    };
  } finally {
    sinks.done();
    clock.stop();
    topo?.dispose();
    await http?.close();
    prom?.close();
    await bus.close();
    await replay.close();
  }
}

function robustnessSummary(exp: Experiment, server: Server | null): Pick<RunSummary, "aggregation" | "replayByActor" | "globalModel"> {
  if (!server) return {};
  const out: Pick<RunSummary, "aggregation" | "replayByActor" | "globalModel"> = {};
  const g = server.global.params();
  out.globalModel = { finite: g.every(Number.isFinite), norm: norm(g) };
  const agg = server.aggregation;
  if (agg) {
    const clients: NonNullable<RunSummary["aggregation"]>["clients"] = {};
    for (const [id, t] of agg.clientTotals) clients[id] = { meanWeight: t.rounds ? t.weightSum / t.rounds : 0, usedRounds: t.usedRounds, rounds: t.rounds, byzantine: attackOf(exp, actorIndex(exp, id)), reasons: t.reasons };
    out.aggregation = { rule: agg.rule, refusedRounds: agg.refusedRounds, clients };
  }
  const gate = server.learner?.gate;
  if (gate) out.replayByActor = Object.fromEntries(Object.entries(gate.snapshot()).map(([id, s]) => [id, { accepted: s.accepted, gated: s.gated, quota: s.quota, evicted: s.evicted, trust: s.trust }]));
  return out;
}

interface LoopState {
  curve: RunSummary["curve"];
  reached: RunSummary["reached"];
  lastEpisodes: number;
  /** Env steps the step clock had not advanced by yet when the checkpoint was taken (a resume advances them first). */
  owed?: number;
  /** The next periodic checkpoint (step clock). */
  nextCheckpoint?: number;
  /** Bytes of each metrics file (<component>.jsonl) at the checkpoint. */
  metrics?: Record<string, number>;
}

const metricsSizes = (runDir: string): Record<string, number> =>
  Object.fromEntries(readdirSync(runDir).filter((f) => f.endsWith(".jsonl")).map((f) => [f, statSync(join(runDir, f)).size]));

function truncateMetrics(runDir: string): void {
  const p = join(runDir, "run-state.json");
  if (!existsSync(p)) return;
  const sizes = (JSON.parse(readFileSync(p, "utf8")) as LoopState).metrics ?? {};
  for (const [f, n] of Object.entries(sizes)) {
    const file = join(runDir, f);
    if (existsSync(file) && statSync(file).size > n) truncateSync(file, n);
  }
}

/** learner-checkpoint/server.json: the server side's and the step clock's state. */
interface ServerState {
  global: GlobalSnapshot;
  learner: LearnerSnapshot | null;
  aggregation: AggregationSnapshot | null;
  clock: StepClockSnapshot | null;
}

type Replayed = Agent & { saveReplay?(dir: string): Promise<void>; restoreReplay?(dir: string): Promise<boolean> };

/** Messages the in-process bus has not handed to subscribers yet (null: another bus, unknown). */
const busPending = (bus: Bus): number | null => (bus.kind === "inproc" && "pending" in bus ? (bus as unknown as { pending: number }).pending : null);

/**
 * Writes every checkpoint of the run (see EmbeddedOptions.checkpoint); run-state.json last, so it
 * names a complete set. Called between flushed steps and the clock's advance: the in-process bus
 * must hold no message then (asserted), and the server's and clock's state is captured before any
 * file is written.
 */
async function saveRun(runDir: string, actors: Actor[], agents: Agent[], server: Server | null, bus: Bus, clock: Clock, loop: LoopState): Promise<void> {
  // On the wall clock the loop does not flush before a checkpoint (and nothing is bit for bit there):
  // deliver what is on its way; the in-flight checks below guard the step clock's exact resume.
  const exact = clock instanceof StepClock;
  if (!exact) await bus.flush();
  const pending = busPending(bus);
  if (pending && exact) throw new Error(`checkpoint: ${pending} bus messages not delivered (the loop checkpoints only after a flush)`);
  await server?.link.drain(); // batches handed to the learner are in the replay
  const state: ServerState | null = server ? {
    global: server.global.snapshot(), learner: server.learner?.snapshot() ?? null, aggregation: server.aggregation?.snapshot() ?? null,
    clock: clock instanceof StepClock ? clock.snapshot() : null,
  } : null;
  const actorStates = actors.map((a) => a.checkpointState());
  for (let i = 0; i < actors.length; i++) {
    const dir = join(runDir, `${actors[i]!.id}-checkpoint`);
    const agent = agents[i] as Replayed;
    await agent.save(dir);
    await agent.saveReplay?.(dir);
    writeFileSync(join(dir, "actor.json"), JSON.stringify(actorStates[i]));
  }
  if (server?.agent) await server.agent.save(join(runDir, "learner-checkpoint", "model"));
  if (server && state) {
    mkdirSync(join(runDir, "learner-checkpoint"), { recursive: true });
    writeFileSync(join(runDir, "learner-checkpoint", "global.json"), JSON.stringify({ version: server.global.version, round: server.global.round }));
    writeFileSync(join(runDir, "learner-checkpoint", "server.json"), encodeState(state));
  }
  // Every shipped batch was acknowledged (on the in-process bus: by the time the files are written).
  for (const a of actors) {
    const p = a.stats().delivery?.pending ?? 0;
    if (p > 0 && exact && busPending(bus) !== null) throw new Error(`checkpoint: ${a.id} has ${p} batches not acknowledged`);
  }
  writeFileSync(join(runDir, "run-state.json"), JSON.stringify({ ...loop, metrics: metricsSizes(runDir) }));
}

/**
 * Restores what saveRun wrote; null when the folder has no checkpoint yet. The actors are restored
 * at once; the server as last published before its start (its first publish repeats what the
 * clients hold), then in full by afterStart(), with the step clock's timers and the owed advance.
 */
async function restoreRun(runDir: string, actors: Actor[], agents: Agent[], server: Server | null, log: Log): Promise<{ loop: LoopState; afterStart(clock: Clock): Promise<void> } | null> {
  const statePath = join(runDir, "run-state.json");
  if (!existsSync(statePath)) {
    log(`${runDir}: no checkpoint yet; starting from the beginning`);
    return null;
  }
  for (let i = 0; i < actors.length; i++) {
    const dir = join(runDir, `${actors[i]!.id}-checkpoint`);
    const agent = agents[i] as Replayed;
    await agent.restore(dir);
    await agent.restoreReplay?.(dir);
    actors[i]!.restoreState(JSON.parse(readFileSync(join(dir, "actor.json"), "utf8")) as ActorState);
  }
  const statePathServer = join(runDir, "learner-checkpoint", "server.json");
  const state = server && existsSync(statePathServer) ? decodeState<ServerState>(readFileSync(statePathServer, "utf8")) : null;
  const g = join(runDir, "learner-checkpoint", "global.json");
  if (state) server!.global.restorePublished(state.global);
  else if (server && existsSync(g)) Object.assign(server.global, JSON.parse(readFileSync(g, "utf8")) as { version: number; round: number });
  const loop = JSON.parse(readFileSync(statePath, "utf8")) as LoopState;
  return {
    loop,
    afterStart: async (clock) => {
      if (server?.agent && existsSync(join(runDir, "learner-checkpoint", "model", "state.json"))) await server.agent.restore(join(runDir, "learner-checkpoint", "model"));
      if (server && state) {
        server.global.restore(state.global);
        if (server.learner && state.learner && !server.learner.restore(state.learner)) log(`${runDir}: the learner's replay or filter was not restored (not a memory replay): the run continues, not bit for bit`);
        if (server.aggregation && state.aggregation) server.aggregation.restore(state.aggregation);
      }
      const steps = Math.min(...actors.map((a) => a.steps));
      if (clock instanceof StepClock) {
        if (state?.clock) clock.restore(state.clock);
        if (loop.owed) await clock.advance(loop.owed);
      }
      log(`resumed ${runDir} at ${steps} steps per actor`);
    },
  };
}

async function serverTail(server: Server | null): Promise<string> {
  if (server?.learner) {
    const s = await server.learner.stats();
    return `learner v${s.version} upd ${k(s.updates)} replay ${k(s.replay.size)} acc ${fmt(100 * s.filter.acceptRate, 0)}% loss ${fmt(s.loss, 3)}`;
  }
  return server ? `aggregator round ${server.global.round} v${server.global.version}` : "";
}

const fmt = (x: number | null | undefined, d = 1) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "–");
const k = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : String(x));

export async function statusLine(actors: Actor[], server: Server | null, t0: number): Promise<string> {
  const secs = (Date.now() - t0) / 1000;
  const steps = actors.reduce((s, a) => s + a.steps, 0);
  const parts = actors.map((a) => `${a.id} ep ${a.episodes} μ100 ${fmt(a.meanReturn(100))} ε ${fmt(a.stats().epsilon, 2)} g${a.globalVersion}`);
  let tail = "";
  if (server?.learner) {
    const s = await server.learner.stats();
    tail = ` | learner v${s.version} r${s.round} upd ${k(s.updates)} replay ${k(s.replay.size)} accept ${fmt(100 * s.filter.acceptRate, 0)}% loss ${fmt(s.loss, 3)} rej ${s.rejected.total}`;
  } else if (server) tail = ` | aggregator round ${server.global.round} v${server.global.version}`;
  return `[${fmt(secs, 0)}s ${k(steps)} steps ${k(Math.round(steps / Math.max(secs, 1e-9)))}/s] ${parts.join(" · ")}${tail}`;
}
