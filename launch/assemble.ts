/**
 * The one assembly of a run's topology from its experiment and recipe, used by the embedded run
 * (everything in one process), `fedrl learner` (the server side) and `fedrl actor` (one actor).
 * Connections, the clock and metrics sinks are passed in; nodes get only their own config slice.
 */
import { existsSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { make } from "../envs/index";
import { VectorEnv } from "../envs/vector";
import type { EnvBounds } from "../envs/types";
import { algorithmNamed } from "../algorithms/registry";
import { WeightsStore, type Agent, type AlgorithmBuilder, type Space } from "../core/agent";
import type { Bus } from "../core/bus";
import type { Clock } from "../core/clock";
import { RejectionCounter } from "../core/errors";
import type { MetricsSink } from "../core/metrics";
import type { ReplayStore } from "../core/replay";
import { aggregatorNamed } from "../federation/aggregators";
import { transitionLimits } from "../federation/bounds";
import { filterNamed } from "../federation/filter";
import { TrustGate } from "../federation/trust-gate";
import { byzantineLinks, type Attack } from "../federation/byzantine";
import type { Downlink, Uplink } from "../core/links";
import { Actor } from "../nodes/actor";
import { AggregationNode } from "../nodes/aggregation";
import { GlobalState, Publisher } from "../nodes/global";
import { Learner } from "../nodes/learner";
import { Ingest } from "../nodes/ingest";
import { BusDownlink, BusServerLink, BusUplink } from "../transport/links";
import { openReplay } from "../transport/open";
import { subjectsFor } from "../transport/subjects";
import { ConfigError, runDirOf, type Experiment } from "./config";
import { recipeOf, type Recipe } from "./recipes";
import { seedOf } from "./seeds";
import { DetectionProbe, type DetectionPoint } from "./detection";
import { actorAgentConfig, blendSchedule, shippedLimits, shippedNStep } from "./exploration";
import { PrioritizedReplay } from "../nodes/prioritized";
import { AuthInitError, loadIdentities, loadSigningKey, type RegisteredIdentities } from "./auth";

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

export function envSpace(exp: Experiment): Space & { bounds?: EnvBounds } {
  const env = make(exp.env.id, { ...exp.env.options });
  const r = { obsDim: env.observationSize, actionCount: env.actionCount, bounds: env.bounds };
  env.close?.();
  return r;
}

export function makeActorEnvs(exp: Experiment, index: number): VectorEnv {
  const site = exp.env.perActorSite ? { site: index % exp.actors.count, sites: exp.actors.count } : {};
  return VectorEnv.create(exp.env.numEnvs, () => make(exp.env.id, { ...exp.env.options, ...site }));
}

/** The algorithm of a run, its parsed hyperparameters per role, the run's common initial weights. */
export function algorithmOf(exp: Experiment, space: Space) {
  const builder = algorithmNamed(exp.algorithm);
  const parse = (raw: Record<string, unknown>, key: string) => {
    try {
      return builder.parseConfig(raw);
    } catch (e) {
      throw new ConfigError(`${key}: ${(e as Error).message}`);
    }
  };
  const actorConfig = parse(exp.agent, "agent");
  const merged = parse({ ...exp.agent, ...exp.learnerAgent }, "learnerAgent/agent");
  // The hybrid learner learns only from shipped rows: 1-step unless actors ship n-step rows (actors.shipNStep).
  const learnerConfig = builder.externalLearner && !exp.actors.shipNStep ? builder.externalLearner(merged) : merged;
  return { builder, actorConfig, learnerConfig, init: builder.initialWeights(space, actorConfig, exp.seed) };
}

/** The run's identities and signing keys (config auth), or null when auth.identities is unset. */
export interface RunAuth {
  identities: RegisteredIdentities;
  /** The private signing key of `name` (auth.signingKey, else <dir>/<name>.sign.pem). */
  keyOf(name: string): KeyObject;
}

export function runAuth(exp: Experiment): RunAuth | null {
  const path = exp.auth.identities;
  if (!path) return null;
  let identities: RegisteredIdentities;
  try {
    identities = loadIdentities(path);
  } catch (e) {
    throw new ConfigError(`auth.identities: ${(e as Error).message}`);
  }
  if (identities.run !== exp.run) throw new ConfigError(`auth.identities: ${path} was generated for run "${identities.run}", this run is "${exp.run}" (fedrl auth init --run ${exp.run})`);
  return {
    identities,
    keyOf(name) {
      const file = exp.auth.signingKey ?? join(identities.dir, `${name}.sign.pem`);
      if (!exp.auth.signingKey && !existsSync(file)) throw new ConfigError(`auth: no signing key for ${name} (looked for ${file}; set auth.signingKey to its .sign.pem)`);
      try {
        return loadSigningKey(file);
      } catch (e) {
        throw new ConfigError(`auth.signingKey: ${e instanceof AuthInitError ? e.message : String(e)}`);
      }
    },
  };
}

/** The run's replay, opened lazily by assemble (Redis when transport.redis is set, else memory), and what closes it. */
export function runReplay(exp: Experiment): { open: (space: Space) => Promise<ReplayStore>; opened(): ReplayStore | null; close(): Promise<void> } {
  let handle: Awaited<ReturnType<typeof openReplay>> | null = null;
  return {
    open: async (space) => {
      handle = await openReplay(exp.transport.redis, { redisCa: exp.auth.redisCa, run: exp.run, capacity: exp.learner.replay.capacity, obsDim: space.obsDim, seed: exp.seed + 99, clearOnStart: exp.learner.replay.clearOnStart });
      return handle.replay;
    },
    opened: () => handle?.replay ?? null,
    close: async () => handle?.close(),
  };
}

export interface AssembleDeps {
  /** Needed unless the recipe is local. */
  bus?: Bus;
  /** Opens the replay (the hybrid learner only). */
  replay?: (space: Space) => Promise<ReplayStore>;
  clock: Clock;
  metrics: (component: string) => MetricsSink;
  log: Log;
}

export interface AssembleWhat {
  actors: readonly string[];
  /** The recipe's server side (learner and/or aggregation node). */
  server: boolean;
  /** Checkpoint directories under the run dir (process mode); the embedded run checkpoints nothing. */
  checkpoints?: boolean;
  /** The learner process of a run with learner.ingest.workers > 0: workers take the transitions (the embedded run always ingests itself). */
  workersIngest?: boolean;
  /** Every actor assembled here attacks (`fedrl actor --byzantine`); otherwise config actors.byzantine picks the last ones. */
  byzantine?: Attack;
}

/** The attack of actor `index`, if it is one of the run's Byzantine actors. */
export function attackOf(exp: Experiment, index: number, override?: Attack): Attack | null {
  if (override) return override;
  const B = exp.actors.byzantine;
  return B.count > 0 && index >= exp.actors.count - B.count && index < exp.actors.count ? (B.attack as Attack) : null;
}

export interface Server {
  global: GlobalState;
  link: BusServerLink;
  learner: Learner | null;
  aggregation: AggregationNode | null;
  publisher: Publisher;
  /** The agent holding the global model (hybrid), else null. */
  agent: Agent | null;
  rejected: RejectionCounter;
  /** IoTIntrusion-v0: the global model's held-out detection metrics after aggregation rounds (eval.detection), oldest first. */
  detection: DetectionPoint[];
  start(): Promise<void>;
  /** Stops timers and subscriptions, drains, checkpoints, publishes the final model. */
  stop(): Promise<void>;
}

export interface Topology {
  recipe: Recipe;
  space: Space;
  builder: AlgorithmBuilder<unknown>;
  actors: Actor[];
  /** The actors' agents, in the same order. */
  agents: Agent[];
  server: Server | null;
  /** An agent acting with the current global model (caller disposes), or null for local runs. */
  globalAgent(): Agent | null;
  dispose(): void;
}

export async function assemble(exp: Experiment, deps: AssembleDeps, what: AssembleWhat): Promise<Topology> {
  const recipe = recipeOf(exp.mode);
  const space = envSpace(exp);
  const { builder, actorConfig, learnerConfig, init } = algorithmOf(exp, space);
  if (recipe.learner && !builder.offPolicy) throw new ConfigError(`mode ${recipe.name} trains a pooled learner on every actor's experience, which needs an off-policy algorithm; ${builder.name} is on-policy: use mode fedavg or local`);
  if (recipe.actors && !deps.bus) throw new Error(`mode ${recipe.name} needs a bus`);
  const subjects = subjectsFor(exp.run);
  const A = exp.actors;
  const auth = runAuth(exp);
  const actors: Actor[] = [];
  const agents: Agent[] = [];
  let server: Server | null = null;
  try {
    // Actors first, so on the step clock their uploads fire before the round that consumes them.
    for (const id of what.actors) {
      const index = actorIndex(exp, id);
      if (auth && recipe.actors && !auth.identities.actors.has(id)) throw new ConfigError(`actor id ${id} is not registered in ${exp.auth.identities} (the learner would refuse it)`);
      const signingKey = auth && recipe.actors ? auth.keyOf(id) : undefined;
      const s = seedOf(exp, index);
      // Ape-X exploration (actors.exploration): this actor's own ε.
      const agent = builder.makeAgent(space, actorAgentConfig(exp, builder, index, actorConfig), s.agent, init);
      agents.push(agent);
      const ra = recipe.actors;
      let links = ra && deps.bus ? {
        uplink: new BusUplink(deps.bus, subjects, id, exp.env.id, { delivery: ra.shipTransitions ? A.delivery : "publish", window: A.window, maxQueued: A.maxQueuedBatches, ackTimeoutMs: A.ackTimeoutMs, log: deps.log, signingKey }) as Uplink,
        downlink: new BusDownlink(deps.bus, subjects, agent.layout(), (l) => deps.log(`${id}: ${l}`), Date.now, { verifyKey: auth?.identities.learnerKey ?? undefined }) as Downlink,
      } : null;
      const attack = attackOf(exp, index, what.byzantine);
      if (links && attack) links = byzantineLinks(links.uplink, links.downlink, { attack, scale: A.byzantine.scale, seed: s.agent * 7919 + 13, actionCount: space.actionCount });
      const federation = ra && links ? {
        ...links,
        shipTransitions: ra.shipTransitions,
        weightsEvery: A.weights,
        beta: ra.adopt === "replace" || A.merge === "replace" ? 1 : A.blendBeta,
        betaAt: ra.adopt === "replace" ? undefined : blendSchedule(exp),
        nStep: ra.shipTransitions ? shippedNStep(exp, actorConfig) : undefined,
        shipped: builder.shipped,
        followers: A.mergeTarget ? builder.followers : [],
      } : undefined;
      const actor = new Actor({
        id, agent, envs: makeActorEnvs(exp, index), clock: deps.clock, metrics: deps.metrics(id), log: deps.log, seed: s.env, federation,
        // On the step clock batches are cut by steps only, so runs do not depend on machine speed.
        config: { batchSteps: A.batchSteps, batchMs: deps.clock.kind === "steps" ? Infinity : A.batchMs },
      });
      actors.push(actor);
    }
    if (what.server && (recipe.learner || recipe.aggregation)) server = await assembleServer(exp, deps, recipe, builder, space, learnerConfig, init, what.checkpoints ?? false, auth, what.workersIngest ?? false);
  } catch (e) {
    for (const a of agents) a.dispose();
    throw e;
  }
  return {
    recipe, space, builder, actors, agents, server,
    globalAgent: () => {
      if (!server) return null;
      return builder.makeAgent(space, actorConfig, 0, server.global.params());
    },
    dispose: () => {
      for (const a of agents) a.dispose();
      server?.agent?.dispose();
    },
  };
}

async function assembleServer(exp: Experiment, deps: AssembleDeps, recipe: Recipe, builder: AlgorithmBuilder<unknown>, space: Space & { bounds?: EnvBounds }, learnerConfig: unknown, init: Float32Array, checkpoints: boolean, auth: RunAuth | null, workersIngestHere: boolean): Promise<Server> {
  if (!deps.bus) throw new Error(`mode ${recipe.name} needs a bus`);
  const rejected = new RejectionCounter();
  const subjects = subjectsFor(exp.run);
  const agent = recipe.learner ? builder.makeAgent(space, learnerConfig, exp.seed * 1000, init) : null;
  const global = new GlobalState(agent ?? new WeightsStore(builder.layout(space, learnerConfig), builder.shipped, init), builder.shipped);
  const signingKey = auth ? auth.keyOf("learner") : undefined;
  if (auth) deps.log(`auth: ${auth.identities.actors.size} registered actor identities (${exp.auth.identities}); others are refused, global models signed`);
  else deps.log("auth: auth.identities not set, any actor id on the bus is accepted as a client and nothing is signed (docs/security.md)");
  const L = exp.learner;
  // With ingest workers (process mode) they take the transitions; the learner only samples and trains.
  const workersIngest = recipe.learner && workersIngestHere;
  const link = new BusServerLink(deps.bus, subjects, {
    obsDim: space.obsDim, actionCount: space.actionCount, layout: global.holder.layout(), maxMessageBytes: exp.learner.maxMessageBytes, rejected, log: deps.log,
    rate: exp.learner.rate, identities: auth?.identities.actors, signingKey, transitions: !workersIngest,
  });
  const metrics = deps.metrics(recipe.learner ? "learner" : "aggregator");
  let learner: Learner | null = null;
  // The learner's stats go to its metrics after every publish.
  const publisher = new Publisher(global, link, deps.clock, async () => {
    aggregation?.rememberBase(global.version, global.params());
    if (learner) metrics.write("learner", await learner.stats());
  });
  let replay: ReplayStore | null = null;
  const gate = recipe.learner ? new TrustGate(L.gate) : null;
  if (recipe.learner) {
    if (!deps.replay) throw new Error(`mode ${recipe.name} needs a replay`);
    replay = await deps.replay(space);
    const filter = filterNamed(L.filter.name, { k: L.filter.k, theta: L.filter.theta, reservoir: L.filter.reservoir, standardize: L.filter.standardize, acceptRate: L.filter.acceptRate }, { obsDim: space.obsDim, replayCapacity: L.replay.capacity, seed: exp.seed + 17 });
    const P = L.prioritized;
    if (P.enabled && workersIngest) throw new ConfigError("learner.prioritized needs the learner to ingest itself (its sum-tree mirrors its own inserts); set learner.ingest.workers to 0");
    const prioritized = P.enabled ? new PrioritizedReplay(replay, { alpha: P.alpha, beta: P.beta, betaSteps: P.betaSteps, eps: P.eps }, exp.seed + 31) : undefined;
    learner = new Learner({
      agent: agent!, replay, filter, link, global, clock: deps.clock, rejected, log: deps.log, prioritized,
      config: { tick: L.tick, updatesPerTick: L.updatesPerTick, replayRatio: L.replayRatio, warmup: L.warmup, batchSize: (learnerConfig as { batchSize: number }).batchSize, warmSample: L.filter.reservoir, rateLimit: L.rateLimit },
      checkpointDir: checkpoints ? join(runDirOf(exp), "learner-checkpoint") : undefined,
      limits: shippedLimits(exp, transitionLimits(space.obsDim, space.bounds, L.bounds), learnerConfig),
      gate: gate ?? undefined,
      ingest: !workersIngest,
    });
    if (workersIngest) deps.log(`learner: ${L.ingest.workers} ingest worker(s) fill the replay (fedrl ingest); this process samples and trains`);
  }
  // IoTIntrusion-v0: the global model judged as a detector on a small fixed held-out set after
  // aggregation rounds (eval.detection), written as "detection" events to the server's metrics.
  const probe = recipe.aggregation && DetectionProbe.enabled(exp) ? new DetectionProbe(exp) : null;
  const detection: DetectionPoint[] = [];
  let evaluator: Agent | null = null;
  let probeOn = true;
  const probeRound = probe ? (round: number) => {
    if (!probeOn || !probe.due(round)) return;
    try {
      // hybrid: the learner's agent holds the global model; fedavg: a bare model, acted by an agent of its layout
      let model = agent;
      if (!model) {
        evaluator ??= builder.makeAgent(space, learnerConfig, 0, global.params());
        evaluator.setWeights({ [builder.shipped]: global.params() });
        model = evaluator;
      }
      const p = probe.run(model, { round, version: global.version, clock: deps.clock.now() });
      detection.push(p);
      if (detection.length > 10_000) detection.shift();
      metrics.write("detection", { ...p });
    } catch (e) {
      probeOn = false;
      deps.log(`detection probe off for this run: ${(e as Error).message.split("\n")[0]}`);
    }
  } : null;
  let aggregation: AggregationNode | null = null;
  const ra = recipe.aggregation;
  if (ra) {
    const G = exp.aggregator;
    const rule = aggregatorNamed(G.rule ?? ra.rule, { trim: G.trim, byzantine: G.byzantine, select: G.select });
    aggregation = new AggregationNode({
      rule, global, onRound: (r) => {
        gate?.onRound(r.clients, rule.weightsAreTrust ?? false);
        probeRound?.(r.round);
      },
      verifiedSamples: gate ? (a) => gate.receivedOf(a) : undefined, clock: deps.clock, metrics, rejected, log: deps.log,
      config: { interval: G.interval, alpha: G.alpha ?? ra.alpha, staleAfter: G.staleAfter, forgetAfterRound: ra.forgetAfterRound, mergeFollowers: G.mergeTarget, followers: builder.followers, bounds: G.bounds, reference: G.reference, rebase: G.rebase },
      flush: () => link.flush(),
      onChange: ra.publishOnChange ? () => publisher.publish() : undefined,
    });
  }
  let checkpointTimer: { cancel(): void } | null = null;
  return {
    global, link, learner, aggregation, publisher, agent, rejected, detection,
    async start() {
      await learner?.start();
      aggregation?.start();
      if (recipe.periodicPublish) publisher.start(L.publish);
      if (learner && checkpoints) checkpointTimer = deps.clock.every(L.checkpoint, () => learner!.checkpoint(), "learner.checkpoint");
      await link.start(learner ? learner.onBatch : async () => false, (actor, w) => {
        if (aggregation) aggregation.offer(actor, w);
      });
      if (recipe.periodicPublish) await publisher.publish();
    },
    async stop() {
      aggregation?.stop();
      publisher.stop();
      checkpointTimer?.cancel();
      await link.close();
      await learner?.stop();
      await publisher.publish().catch(() => {});
      probe?.close();
      evaluator?.dispose();
      evaluator = null;
    },
  };
}

/** One ingest worker: its link (transitions only, in the queue group), ingest path and gate. */
export interface IngestWorkerParts {
  link: BusServerLink;
  ingest: Ingest;
  gate: TrustGate;
  rejected: RejectionCounter;
  /** Follows the published global model, for the gate's TD check. */
  downlink: Downlink;
  /** The global version the TD check uses (0: none received yet). */
  version(): number;
  dispose(): void;
}

/** NATS queue group of a run's ingest workers. */
export const INGEST_QUEUE = "fedrl-ingest";

/**
 * `fedrl ingest`: one of learner.ingest.workers processes in the hybrid recipe. Each keeps its own
 * filter reservoir (seeded per worker) over the 1/N of batches the queue group hands it: a uniform
 * thinning of the same stream, so every reservoir samples the same population. Its trust gate sees
 * the data checks (reward, TD error under the latest global model, quota); the aggregation
 * verdicts stay in the learner process.
 */
export async function assembleIngestWorker(exp: Experiment, deps: { bus: Bus; replay: ReplayStore; log: Log }, index: number): Promise<IngestWorkerParts> {
  const recipe = recipeOf(exp.mode);
  if (!recipe.learner) throw new ConfigError(`mode ${exp.mode} has no replay to ingest into (ingest workers serve mode hybrid)`);
  const space = envSpace(exp);
  const { builder, learnerConfig, init } = algorithmOf(exp, space);
  const auth = runAuth(exp);
  const rejected = new RejectionCounter();
  const L = exp.learner;
  const subjects = subjectsFor(exp.run);
  const link = new BusServerLink(deps.bus, subjects, {
    obsDim: space.obsDim, actionCount: space.actionCount, layout: builder.layout(space, learnerConfig), maxMessageBytes: L.maxMessageBytes, rejected, log: deps.log,
    rate: L.rate, identities: auth?.identities.actors, weights: false, ingestQueue: INGEST_QUEUE,
  });
  const filter = filterNamed(L.filter.name, { k: L.filter.k, theta: L.filter.theta, reservoir: L.filter.reservoir, standardize: L.filter.standardize, acceptRate: L.filter.acceptRate }, { obsDim: space.obsDim, replayCapacity: L.replay.capacity, seed: exp.seed + 17 + 7919 * (index + 1) });
  const gate = new TrustGate(L.gate);
  const agent = builder.makeAgent(space, learnerConfig, exp.seed * 1000, init);
  let version = 0;
  const downlink = new BusDownlink(deps.bus, subjects, agent.layout(), deps.log, Date.now, { verifyKey: auth?.identities.learnerKey ?? undefined });
  await downlink.subscribe((g) => {
    if (g.version <= version) return;
    version = g.version;
    agent.setWeights(Object.fromEntries([builder.shipped, ...builder.followers].map((k) => [k, g.params])));
  });
  const tdErrors = agent.tdErrors?.bind(agent);
  const ingest = new Ingest({
    replay: deps.replay, filter, rejected, limits: shippedLimits(exp, transitionLimits(space.obsDim, space.bounds, L.bounds), learnerConfig), gate, log: deps.log,
    tdErrors: tdErrors ? (b) => (version > 0 ? tdErrors(b) : null) : undefined,
  });
  if ((await deps.replay.size()) > 0) filter.warm(await deps.replay.sample(Math.min(L.filter.reservoir, 4096)));
  return { link, ingest, gate, rejected, downlink, version: () => version, dispose: () => agent.dispose() };
}
