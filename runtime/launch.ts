/**
 * Wiring: builds actors, the global learner (hybrid) or FedAvg server (fedavg) over a bus and a
 * replay chosen by config, and runs them — all in one process (embedded default, benchmarks) or
 * as separate processes over NATS + Redis (`fedrl learner`, `fedrl actor`, `fedrl run`).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { make } from "../envs/index";
import { VectorEnv } from "../envs/vector";
import { Actor } from "../actors/actor";
import { GlobalLearner } from "../learners/global-learner";
import { FedAvgServer } from "../learners/fedavg-server";
import type { Bus } from "./bus";
import { InProcessBus } from "./bus-inproc";
import { NatsBus } from "./bus-nats";
import { StepClock, WallClock, type Clock } from "./clock";
import { runDirOf, type Experiment } from "./config";
import { JsonlMetrics, TeeMetrics, type MetricsSink } from "./metrics";
import { MemoryReplay } from "./replay/memory";
import { RedisReplay } from "./replay/redis";
import type { ReplayStore } from "./replay/types";
import { subjectsFor } from "./subjects";
import { createAgent, initialParameters } from "./agents";
import type { RuntimeAgent } from "./agent-port";

export type Log = (line: string) => void;

export function actorId(exp: Experiment, i: number): string {
  return `${exp.actors.idPrefix}-${i}`;
}

/** Index of an actor id made by actorId (for per-actor seeds and sites); a foreign id hashes. */
export function actorIndex(exp: Experiment, id: string): number {
  const m = new RegExp(`^${exp.actors.idPrefix}-(\\d+)$`).exec(id);
  if (m) return Number(m[1]);
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 1000 + (h % 100_000);
}

export function envSpace(exp: Experiment): { obsDim: number; actionCount: number } {
  const env = make(exp.env.id, { ...exp.env.options });
  const r = { obsDim: env.observationSize, actionCount: env.actionCount };
  env.close?.();
  return r;
}

export function makeActorEnvs(exp: Experiment, index: number): VectorEnv {
  const site = exp.env.perActorSite ? { site: index % exp.actors.count, sites: exp.actors.count } : {};
  return VectorEnv.create(exp.env.numEnvs, () => make(exp.env.id, { ...exp.env.options, ...site }));
}

/** Mean greedy return over `episodes` episodes with seeds seed, seed+1, … */
export function evaluateGreedy(agent: Pick<RuntimeAgent, "greedyAction">, exp: Experiment, episodes = exp.eval.episodes, seed = exp.eval.seed): { mean: number; std: number; returns: number[] } {
  const env = make(exp.env.id, { ...exp.env.options });
  const returns: number[] = [];
  for (let e = 0; e < episodes; e++) {
    let { obs } = env.reset({ seed: seed + e });
    let ret = 0;
    for (;;) {
      const r = env.step(agent.greedyAction(obs));
      ret += r.reward;
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    returns.push(ret);
  }
  env.close?.();
  const mean = returns.reduce((a, b) => a + b, 0) / Math.max(1, returns.length);
  const std = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, returns.length));
  return { mean, std, returns };
}

function seedOf(exp: Experiment, index: number) {
  return { env: exp.seed * 1_000_003 + index * 10_007, agent: exp.seed * 1000 + index + 1 };
}

export async function openReplay(exp: Experiment, obsDim: number, redis: Redis | null): Promise<ReplayStore> {
  const { capacity } = exp.learner.replay;
  const replay = redis ? await RedisReplay.open(redis, { run: exp.run, capacity, obsDim, seed: exp.seed + 99 }) : new MemoryReplay(capacity, obsDim, exp.seed + 99);
  if (exp.learner.replay.clearOnStart) await replay.clear();
  return replay;
}

export async function connectRedis(url: string): Promise<Redis> {
  const r = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: true, retryStrategy: (n) => Math.min(2000, 50 * 2 ** n) });
  try {
    await r.connect();
  } catch (e) {
    r.disconnect();
    throw new Error(`cannot connect to Redis at ${url}: ${(e as Error).message}`);
  }
  return r;
}

export interface RunSummary {
  mode: Experiment["mode"];
  env: string;
  wallSeconds: number;
  actors: { id: string; steps: number; episodes: number; mean100: number; returns: number[]; globalVersion: number; bytesSent: number; batchesSent: number; weightsSent: number; updates: number }[];
  learner?: Awaited<ReturnType<GlobalLearner["stats"]>>;
  fedavg?: { rounds: number; version: number; published: number; publishedBytes: number };
  /** Greedy evaluation of the global model (hybrid/fedavg) or of the actors' own models averaged (local). */
  eval: { mean: number; std: number };
  /** First (actor-mean of mean-`window`) crossing of budget.targetReturn. */
  reached: { episodesPerActor: number; stepsPerActor: number } | null;
  /** Mean over actors of their mean-`window` return, after every finished episode round. */
  curve: { episodesPerActor: number; stepsPerActor: number; mean: number }[];
}

export interface EmbeddedOptions {
  log?: Log;
  /** Called every ~2 s with a status line. */
  progress?: (line: string) => void;
  /** Resolves/aborts the run early (Ctrl-C). */
  signal?: AbortSignal;
  /** Write JSONL metrics under the run directory (default true). */
  writeMetrics?: boolean;
  /** Extra sink (tests, benchmarks). */
  metrics?: MetricsSink;
  /** Env steps per actor between yields to the event loop. */
  chunk?: number;
}

/**
 * The whole topology in this process. Uses NATS/Redis when the experiment names them, otherwise
 * the in-process bus and in-memory replay. With `clock: steps` every timer is driven by env steps
 * (per actor), so results do not depend on machine speed.
 */
export async function runEmbedded(exp: Experiment, opts: EmbeddedOptions = {}): Promise<RunSummary> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const runDir = runDirOf(exp);
  const sink = (component: string): MetricsSink => {
    const sinks: MetricsSink[] = [];
    if (opts.writeMetrics ?? true) sinks.push(new JsonlMetrics(join(runDir, `${component}.jsonl`), component));
    if (opts.metrics) sinks.push(opts.metrics);
    return new TeeMetrics(sinks);
  };
  const subjects = subjectsFor(exp.run);
  const { obsDim, actionCount } = envSpace(exp);
  const init = initialParameters(exp, obsDim, actionCount);
  const clock: Clock = exp.clock === "steps" ? new StepClock() : new WallClock((n, e) => log(`timer ${n} failed: ${(e as Error)?.message ?? e}`));
  const bus: Bus = exp.transport.nats ? await NatsBus.connect({ url: exp.transport.nats, name: `fedrl-${exp.run}-embedded`, log }) : new InProcessBus();
  const redis = exp.transport.redis ? await connectRedis(exp.transport.redis) : null;
  let learner: GlobalLearner | undefined;
  let learnerAgent: ReturnType<typeof createAgent> | undefined;
  let fedavg: FedAvgServer | undefined;
  const actors: Actor[] = [];
  const agents: RuntimeAgent[] = [];
  try {
    // Actors first, so on the step clock their uploads fire before the round that consumes them.
    for (let i = 0; i < exp.actors.count; i++) {
      const s = seedOf(exp, i);
      const agent = createAgent(exp, obsDim, actionCount, "actor", s.agent, init);
      agents.push(agent);
      const actor = new Actor({ id: actorId(exp, i), exp, bus: exp.mode === "local" ? null : bus, subjects, clock, agent, envs: makeActorEnvs(exp, i), metrics: sink(actorId(exp, i)), log, seed: s.env });
      await actor.start();
      actors.push(actor);
    }
    if (exp.mode === "hybrid") {
      learnerAgent = createAgent(exp, obsDim, actionCount, "learner", exp.seed * 1000, init);
      const replay = await openReplay(exp, obsDim, redis);
      learner = new GlobalLearner({
        exp, bus, subjects, replay, agent: learnerAgent, clock, metrics: sink("learner"), obsDim, actionCount,
        batchSize: learnerAgent.config.batchSize, log,
      });
      await learner.start();
    } else if (exp.mode === "fedavg") {
      fedavg = new FedAvgServer({ exp, bus, subjects, clock, metrics: sink("fedavg"), layout: createAgent(exp, obsDim, actionCount, "learner", 0).layout(), log });
      await fedavg.start();
    }
    await bus.flush();

    const chunk = opts.chunk ?? 10;
    const { budget } = exp;
    const curve: RunSummary["curve"] = [];
    let reached: RunSummary["reached"] = null;
    let lastEpisodes = 0;
    let lastProgress = Date.now();
    const stepsDone = () => Math.min(...actors.map((a) => a.steps));
    const meanOfMeans = () => actors.reduce((s, a) => s + (Number.isNaN(a.meanReturn(budget.window)) ? 0 : a.meanReturn(budget.window)), 0) / actors.length;
    for (;;) {
      for (const a of actors) a.stepMany(chunk);
      if (clock instanceof StepClock) {
        await bus.flush();
        await clock.advance(chunk * exp.env.numEnvs);
      } else await new Promise((r) => setImmediate(r));
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
      if (Date.now() - lastProgress >= 2000) {
        lastProgress = Date.now();
        opts.progress?.(await statusLine(actors, learner, fedavg, t0));
      }
      const done =
        opts.signal?.aborted ||
        (budget.stepsPerActor > 0 && stepsDone() >= budget.stepsPerActor) ||
        (budget.episodesPerActor > 0 && episodesPerActor >= budget.episodesPerActor) ||
        (budget.seconds > 0 && Date.now() - t0 >= budget.seconds * 1000) ||
        (reached !== null && budget.targetReturn !== undefined && exp.budget.stepsPerActor === 0 && exp.budget.episodesPerActor === 0);
      if (done) break;
    }
    for (const a of actors) await a.stop();
    await bus.flush();
    let evalResult: { mean: number; std: number };
    if (learner && learnerAgent) {
      await learner.stop();
      evalResult = evaluateGreedy(learnerAgent, exp);
    } else if (fedavg) {
      await fedavg.stop();
      const g = createAgent(exp, obsDim, actionCount, "learner", 0, fedavg.global ?? init);
      evalResult = evaluateGreedy(g, exp);
      g.dispose();
    } else {
      const per = agents.map((a) => evaluateGreedy(a, exp));
      evalResult = { mean: per.reduce((s, r) => s + r.mean, 0) / per.length, std: per.reduce((s, r) => s + r.std, 0) / per.length };
    }
    return {
      mode: exp.mode, env: exp.env.id, wallSeconds: (Date.now() - t0) / 1000,
      actors: actors.map((a, i) => ({ updates: agents[i]!.updates, id: a.id, steps: a.steps, episodes: a.episodes, mean100: a.meanReturn(100), returns: a.returns.slice(), globalVersion: a.globalVersion, bytesSent: a.bytesSent, batchesSent: a.batchesSent, weightsSent: a.weightsSent })),
      learner: learner ? await learner.stats() : undefined,
      fedavg: fedavg ? { rounds: fedavg.round, version: fedavg.version, published: fedavg.published, publishedBytes: fedavg.publishedBytes } : undefined,
      eval: evalResult, reached, curve,
    };
  } finally {
    clock.stop();
    for (const a of agents) a.dispose();
    learnerAgent?.dispose();
    await bus.close();
    redis?.disconnect();
  }
}

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–");
const k = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : String(x));

export async function statusLine(actors: Actor[], learner: GlobalLearner | undefined, fedavg: FedAvgServer | undefined, t0: number): Promise<string> {
  const secs = (Date.now() - t0) / 1000;
  const steps = actors.reduce((s, a) => s + a.steps, 0);
  const parts = actors.map((a) => `${a.id} ep ${a.episodes} μ100 ${fmt(a.meanReturn(100))} ε ${fmt(a.stats().epsilon, 2)} g${a.globalVersion}`);
  let tail = "";
  if (learner) {
    const s = await learner.stats();
    tail = ` | learner v${s.version} r${s.round} upd ${k(s.updates)} replay ${k(s.replay.size)} accept ${fmt(100 * s.filter.acceptRate, 0)}% loss ${fmt(s.loss, 3)} rej ${s.rejected.total}`;
  }
  if (fedavg) tail = ` | fedavg round ${fedavg.round} v${fedavg.version}`;
  return `[${fmt(secs, 0)}s ${k(steps)} steps ${k(Math.round(steps / Math.max(secs, 1e-9)))}/s] ${parts.join(" · ")}${tail}`;
}

// ---------------------------------------------------------------- separate processes

export interface ProcessOptions {
  log: Log;
  signal: AbortSignal;
}

async function requireTransports(exp: Experiment, needRedis: boolean) {
  if (!exp.transport.nats) throw new Error("this component talks over NATS: set NATS_URL (or transport.nats in the config)");
  if (needRedis && !exp.transport.redis) throw new Error("the hybrid learner keeps its replay in Redis: set REDIS_URL (or transport.redis in the config)");
}

/** `fedrl learner`: the global learner (+ aggregator) or the FedAvg server, until signalled. */
export async function runLearnerProcess(exp: Experiment, o: ProcessOptions): Promise<void> {
  if (exp.mode === "local") throw new Error("mode local has no learner process");
  await requireTransports(exp, exp.mode === "hybrid");
  const runDir = runDirOf(exp);
  const subjects = subjectsFor(exp.run);
  const { obsDim, actionCount } = envSpace(exp);
  const init = initialParameters(exp, obsDim, actionCount);
  const clock = new WallClock((n, e) => o.log(`timer ${n} failed: ${(e as Error)?.message ?? e}`));
  const bus = await NatsBus.connect({ url: exp.transport.nats!, name: `fedrl-${exp.run}-learner`, log: o.log });
  const redis = exp.mode === "hybrid" ? await connectRedis(exp.transport.redis!) : null;
  const metrics = new JsonlMetrics(join(runDir, exp.mode === "hybrid" ? "learner.jsonl" : "fedavg.jsonl"), "learner");
  let stop: () => Promise<void>;
  let status: () => Promise<Record<string, unknown>>;
  let agent: ReturnType<typeof createAgent> | undefined;
  if (exp.mode === "hybrid") {
    agent = createAgent(exp, obsDim, actionCount, "learner", exp.seed * 1000, init);
    const replay = await openReplay(exp, obsDim, redis);
    const learner = new GlobalLearner({
      exp, bus, subjects, replay, agent, clock, metrics, obsDim, actionCount, log: o.log,
      batchSize: agent.config.batchSize, checkpointDir: join(runDir, "learner-checkpoint"),
    });
    await learner.start();
    o.log(`learner up: run ${exp.run}, replay ${replay.kind} (${await replay.size()} transitions), version ${learner.counters.version}`);
    stop = () => learner.stop();
    status = async () => ({ ...(await learner.stats()), evalGlobal: undefined });
  } else {
    const server = new FedAvgServer({ exp, bus, subjects, clock, metrics, layout: createAgent(exp, obsDim, actionCount, "learner", 0).layout(), log: o.log });
    await server.start();
    o.log(`fedavg server up: run ${exp.run}`);
    stop = () => server.stop();
    status = async () => ({ round: server.round, version: server.version, rejected: server.rejected.snapshot() });
  }
  const heartbeat = setInterval(() => {
    void status().then((s) => bus.publish(subjects.metrics("learner"), new TextEncoder().encode(JSON.stringify(s)))).catch(() => {});
  }, 2000);
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    o.signal.addEventListener("abort", () => resolve(), { once: true });
    // Alone, the learner honours budget.seconds; under `fedrl run` the launcher stops it after the actors.
    if (exp.budget.seconds > 0 && !process.env.FEDRL_CHILD) setTimeout(resolve, exp.budget.seconds * 1000);
  });
  clearInterval(heartbeat);
  await stop();
  clock.stop();
  agent?.dispose();
  await bus.close();
  redis?.disconnect();
  o.log("learner stopped (checkpoint written)");
}

/** `fedrl actor --id X`: one actor until its budget or a signal. */
export async function runActorProcess(exp: Experiment, id: string, o: ProcessOptions): Promise<Record<string, unknown>> {
  if (exp.mode !== "local") await requireTransports(exp, false);
  const index = actorIndex(exp, id);
  const subjects = subjectsFor(exp.run);
  const { obsDim, actionCount } = envSpace(exp);
  const init = initialParameters(exp, obsDim, actionCount);
  const clock = new WallClock((n, e) => o.log(`timer ${n} failed: ${(e as Error)?.message ?? e}`));
  const bus = exp.mode === "local" ? null : await NatsBus.connect({ url: exp.transport.nats!, name: `fedrl-${exp.run}-${id}`, log: o.log });
  const s = seedOf(exp, index);
  const agent = createAgent(exp, obsDim, actionCount, "actor", s.agent, init);
  // The actor's only state is its checkpoint: model, optimiser, counters, ε. A restarted actor
  // resumes it; the global model it then receives (if newer) is merged on top as usual.
  const checkpointDir = join(runDirOf(exp), `${id}-checkpoint`);
  if (existsSync(join(checkpointDir, "state.json"))) {
    await agent.restore(checkpointDir);
    o.log(`${id}: resumed from ${checkpointDir} (${agent.steps} steps, ε ${agent.epsilon.toFixed(3)})`);
  }
  const actor = new Actor({ id, exp, bus, subjects, clock, agent, envs: makeActorEnvs(exp, index), metrics: new JsonlMetrics(join(runDirOf(exp), `${id}.jsonl`), id), log: o.log, seed: s.env + agent.episodes });
  actor.steps = agent.steps; // budgets count from the checkpoint, not from this process's start
  actor.episodes = agent.episodes;
  await actor.start();
  let saving = false;
  const checkpointTimer = clock.every(exp.learner.checkpoint, async () => {
    if (saving) return;
    saving = true;
    try { await agent.save(checkpointDir); } finally { saving = false; }
  }, `${id}.checkpoint`);
  const t0 = Date.now();
  let last = 0;
  const { budget } = exp;
  const stepPause = exp.actors.maxStepsPerSec > 0 ? 1000 / exp.actors.maxStepsPerSec : 0;
  while (!o.signal.aborted) {
    actor.stepMany(10);
    if (stepPause > 0) await new Promise((r) => setTimeout(r, stepPause * 10));
    else await new Promise((r) => setImmediate(r));
    if (bus && Date.now() - last >= 2000) {
      last = Date.now();
      bus.publish(subjects.metrics(id), new TextEncoder().encode(JSON.stringify(actor.stats())));
    }
    const m = actor.meanReturn(budget.window);
    if ((budget.stepsPerActor > 0 && actor.steps >= budget.stepsPerActor) || (budget.episodesPerActor > 0 && actor.episodes >= budget.episodesPerActor) ||
      (budget.seconds > 0 && Date.now() - t0 >= budget.seconds * 1000) || (budget.targetReturn !== undefined && actor.returns.length >= budget.window && m >= budget.targetReturn)) break;
  }
  await actor.stop();
  checkpointTimer.cancel();
  await agent.save(checkpointDir);
  const stats = actor.stats();
  if (bus) {
    bus.publish(subjects.metrics(id), new TextEncoder().encode(JSON.stringify({ ...stats, done: true })));
    await bus.close();
  }
  clock.stop();
  agent.dispose();
  return stats;
}
