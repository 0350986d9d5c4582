/**
 * Experiment configuration: YAML files under configs/, validated by one zod schema that holds every
 * default. `--set a.b=value` overrides; unknown keys and wrong types fail naming the key and file.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ALGORITHMS } from "../algorithms/registry";
import { AGGREGATORS } from "../federation/aggregators";
import { ATTACKS } from "../federation/byzantine";
import { FILTERS } from "../federation/filter";
import { RECIPES } from "./recipes";
import { defaultRun, envIdOfSets } from "./defaults";

const token = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "letters, digits, '_' or '-' (1-64 chars)");
const period = (ms: number, steps: number) =>
  z.strictObject({ ms: z.number().positive().default(ms), steps: z.number().int().positive().default(steps) }).prefault({});

export const ExperimentSchema = z.strictObject({
  /** Names the run: NATS subjects, Redis keys, the run directory. */
  run: token.default("fedrl"),
  /** The method, a recipe (launch/recipes.ts): hybrid = experience sharing + filter + global learner + aggregation; fedavg; local. */
  mode: z.string().default("hybrid"),
  /** The learning algorithm, by its registered name (algorithms/registry.ts). */
  algorithm: z.string().default("dqn"),
  seed: z.number().int().nonnegative().default(0),
  env: z.strictObject({
    id: z.string().default("CartPole-v1"),
    options: z.record(z.string(), z.unknown()).default({}),
    /** Environments each actor steps (vectorised). */
    numEnvs: z.number().int().min(1).max(256).default(1),
    /** Give actor i the env option `site: i` and `sites: count` (IoT non-IID sites). */
    perActorSite: z.boolean().default(false),
  }).prefault({}),
  /** The algorithm's hyperparameters (validated by its builder, e.g. algorithms/dqn/config.ts). */
  agent: z.record(z.string(), z.unknown()).default({}),
  /** Overrides for the global learner's agent (e.g. a larger learning rate); merged over `agent`. */
  learnerAgent: z.record(z.string(), z.unknown()).default({}),
  actors: z.strictObject({
    count: z.number().int().min(1).max(1024).default(3),
    idPrefix: token.default("actor"),
    /** Ship a transition batch every N steps or T ms, whichever first. */
    batchSteps: z.number().int().min(1).max(65536).default(200),
    batchMs: z.number().positive().default(1000),
    /**
     * ack: each batch is a request the learner answers once it is in the replay; unanswered batches
     * are retried (window in flight, bounded queue, losses counted). publish: fire and forget.
     */
    delivery: z.enum(["ack", "publish"]).default("ack"),
    window: z.number().int().min(1).max(1024).default(4),
    maxQueuedBatches: z.number().int().min(1).default(1000),
    ackTimeoutMs: z.number().int().positive().default(10_000),
    /** Upload local weights this often. */
    weights: period(15_000, 3_000),
    /** How a received global model enters the local one: replace, or blend θ ← β·θ_global + (1−β)·θ_local (FedAvg always replaces). */
    merge: z.enum(["replace", "blend"]).default("replace"),
    blendBeta: z.number().min(0).max(1).default(0.5),
    /** A β schedule (merge blend): β moves linearly from blendBeta to blendBetaEnd over blendSteps env steps per actor (0 = fixed β). */
    blendBetaEnd: z.number().min(0).max(1).optional(),
    blendSteps: z.number().int().nonnegative().default(0),
    /**
     * Exploration per actor (ε-greedy algorithms): "agent" = every actor uses the agent's ε schedule;
     * "apex" = Ape-X, actor i of N explores with ε_i = base^(1 + alpha·i/(N−1)) — constant, or reached
     * linearly from the agent's epsilonStart over decaySteps env steps when decaySteps > 0.
     */
    exploration: z.strictObject({
      kind: z.enum(["agent", "apex"]).default("agent"),
      base: z.number().gt(0).max(1).default(0.4),
      alpha: z.number().nonnegative().default(7),
      decaySteps: z.number().int().nonnegative().default(0),
    }).prefault({}),
    /**
     * Hybrid: ship n-step rows (the agent's nStep and gamma, built per env copy) instead of 1-step
     * rows, so the global learner learns n-step returns too (its agent keeps nStep). Default false.
     */
    shipNStep: z.boolean().default(false),
    /** Apply the same merge to the algorithm's follower groups, e.g. DQN's target network (else only the shipped group moves). */
    mergeTarget: z.boolean().default(true),
    /** Env steps per second cap (0 = as fast as possible); useful to emulate slow devices. */
    maxStepsPerSec: z.number().nonnegative().default(0),
    /** Adversaries for robustness tests: the last `count` actors send `attack`'s corruption (federation/byzantine.ts). */
    byzantine: z.strictObject({
      count: z.number().int().min(0).default(0),
      attack: z.string().default("sign-flip"),
      /** The attack's strength (sign-flip c, scaled c, noise σ, flood copies); default per attack. */
      scale: z.number().positive().optional(),
    }).prefault({}),
  }).prefault({}),
  learner: z.strictObject({
    tick: period(500, 100),
    /** Gradient steps per tick (when replayRatio is 0), or the most per tick (when it is set). */
    updatesPerTick: z.number().int().min(0).max(10_000).default(8),
    /**
     * Gradient steps per transition accepted into the replay (0 = a fixed updatesPerTick). With K
     * actors each learning every 4 steps, 0.25 gives the learner K actors' worth of updates, on
     * either clock. Credit beyond updatesPerTick in one tick is dropped and counted.
     */
    replayRatio: z.number().nonnegative().max(64).default(0),
    /** Publish the global model this often. */
    publish: period(5_000, 1_000),
    /**
     * Per-actor rate limits at the learner's link (token buckets; 0 = off): a batch over either is
     * answered RETRY (the actor backs off), weights over it are dropped; counted rate_limited.
     */
    rate: z.strictObject({
      messagesPerSec: z.number().nonnegative().default(0),
      bytesPerSec: z.number().nonnegative().default(0),
    }).prefault({}),
    /** Largest message (wire bytes, and inflated body) the learner accepts. */
    maxMessageBytes: z.number().int().min(1024).default(4 << 20),
    /** Start training once the replay holds this many transitions. */
    warmup: z.number().int().nonnegative().default(1_000),
    /**
     * Proportional prioritized replay in the learner (nodes/prioritized.ts): P(i) ∝ (|δ_i| + eps)^alpha,
     * importance weights with β annealed from beta to 1 over betaSteps updates (applied when the
     * learner's agent takes row weights: DQN engine js). Needs the learner to ingest itself.
     */
    prioritized: z.strictObject({
      enabled: z.boolean().default(false),
      alpha: z.number().min(0).max(1).default(0.6),
      beta: z.number().min(0).max(1).default(0.4),
      betaSteps: z.number().int().positive().default(100_000),
      eps: z.number().positive().default(1e-3),
    }).prefault({}),
    /**
     * Sample:insert rate limiter: gradient steps per inserted transition kept within [min, max] (0 = that
     * side off). Below min a tick makes up to 10× updatesPerTick; when the learner still owes more than
     * `insertSlack` updates, new transition batches are answered RETRY (the actors back off and resend:
     * the learner cannot fall behind unboundedly). 0 = never hold inserts back. The learner's ingest only
     * (ingest workers insert on their own).
     */
    rateLimit: z.strictObject({
      min: z.number().nonnegative().default(0),
      max: z.number().nonnegative().default(0),
      insertSlack: z.number().int().nonnegative().default(0),
    }).prefault({}),
    /**
     * Ingest workers (\`fedrl ingest\`, hybrid over NATS + Redis): decode, bounds, trust gate, filter
     * and replay insert in separate processes sharing a NATS queue group; the learner only samples
     * and trains. 0 = the learner ingests itself (the embedded run always does). \`fedrl run\` with
     * NATS_URL starts this many; in containers run \`fedrl ingest\` this many times.
     */
    ingest: z.strictObject({
      workers: z.number().int().min(0).max(64).default(0),
    }).prefault({}),
    replay: z.strictObject({
      capacity: z.number().int().positive().default(100_000),
      /** Clear this run's Redis replay at start (otherwise a restarted learner resumes it). */
      clearOnStart: z.boolean().default(false),
    }).prefault({}),
    filter: z.strictObject({
      /** Experience filter by name (federation/filter.ts): diversity (the seed's), none. */
      name: z.string().default("diversity"),
      k: z.number().int().min(1).max(4096).default(32),
      theta: z.number().nonnegative().default(0.15),
      /** In-memory reservoir of reference states mirrored from inserts. */
      reservoir: z.number().int().min(1).default(4096),
      /** Distances on states standardised by running mean/std, so θ is in standard deviations. */
      standardize: z.boolean().default(false),
      /** θ from the quantile of recent distances that keeps about this fraction of rows (0 = the fixed θ). */
      acceptRate: z.number().min(0).lt(1).default(0),
    }).prefault({}),
    checkpoint: period(60_000, 20_000),
    /** Plausible transitions: the env's declared observation/reward bounds widened by slack; maxAbs where none is declared. */
    bounds: z.strictObject({
      slack: z.number().min(1).default(2),
      maxAbs: z.number().positive().default(1e4),
    }).prefault({}),
    /** Trust-gated replay (federation/trust-gate.ts): batches of clients whose trust is below `below` are refused; a per-client quota against floods. */
    gate: z.strictObject({
      below: z.number().min(0).max(1).default(0.5),
      rate: z.number().gt(0).max(1).default(0.5),
      tdRate: z.number().gt(0).max(1).default(0.1),
      tdRatio: z.number().gt(1).default(4),
      rewardZ: z.number().gt(0).default(6),
      quota: z.number().min(0).default(3),
      quotaFloor: z.number().int().min(0).default(2000),
    }).prefault({}),
  }).prefault({}),
  aggregator: z.strictObject({
    /** Rounds (FedAvg: one round per interval, averaging the uploads since the last). */
    interval: period(30_000, 6_000),
    /** θ_global ← α·θ_global + (1−α)·mix; default per recipe (hybrid 0.5, fedavg 0). */
    alpha: z.number().min(0).max(1).optional(),
    /** Aggregation rule by name (federation/aggregators.ts); default per recipe (hybrid trust, fedavg fedavg). */
    rule: z.string().optional(),
    staleAfter: period(90_000, 18_000),
    /** trimmed-mean: fraction of clients cut from each end per coordinate. */
    trim: z.number().min(0).lt(0.5).default(0.2),
    /** krum / multi-krum: Byzantine clients assumed (f). */
    byzantine: z.number().int().min(0).default(1),
    /** multi-krum: clients averaged (0 = K − f). */
    select: z.number().int().min(0).default(0),
    /** trust-delta's reference: the median client update (default) or the server's own update since the last round (FLTrust-style; see nodes/aggregation.ts). */
    reference: z.enum(["median", "server"]).default("median"),
    /** Apply each client's own update (since the global version it merged) to the current global model before the rule (nodes/aggregation.ts). */
    rebase: z.boolean().default(false),
    /** Plausibility bounds, relative to max(‖θ_global‖, 1): uploads beyond them and rounds that would explode are refused (counted). */
    bounds: z.strictObject({
      normRatio: z.number().positive().default(3),
      deltaRatio: z.number().positive().default(2),
      growth: z.number().gt(1).default(2),
    }).prefault({}),
    /** Apply the same blend to the global model's follower groups (the learner's target network). */
    mergeTarget: z.boolean().default(true),
  }).prefault({}),
  clock: z.enum(["wall", "steps"]).default("wall"),
  transport: z.strictObject({
    /** NATS URL; env NATS_URL wins. Unset (and no env) = in-process bus. */
    nats: z.string().optional(),
    /** Redis URL; env REDIS_URL wins. Unset (and no env) = in-memory replay. */
    redis: z.string().optional(),
  }).prefault({}),
  /** Identities and keys from `fedrl auth init` (docs/security.md). */
  auth: z.strictObject({
    /**
     * Path of identities.json. Set: the learner signs global models and counts only the listed
     * actors as clients (their weights verified with their keys); actors refuse global models not
     * signed by the listed learner. Unset: any actor id on the bus is a client, nothing is signed.
     */
    identities: z.string().min(1).optional(),
    /** This component's private signing key (PEM); default <dir of identities.json>/<name>.sign.pem. */
    signingKey: z.string().min(1).optional(),
    /** PEM of a CA for rediss:// (env REDIS_CA wins). */
    redisCa: z.string().min(1).optional(),
  }).prefault({}),
  budget: z.strictObject({
    /** Env steps per actor (0 = unlimited). */
    stepsPerActor: z.number().int().nonnegative().default(0),
    episodesPerActor: z.number().int().nonnegative().default(0),
    /** Wall seconds for the whole run (0 = unlimited). */
    seconds: z.number().nonnegative().default(0),
    /** The actors' mean-`window` return that counts as solved (recorded as `reached`). */
    targetReturn: z.number().optional(),
    /** Stop once targetReturn is reached (it always stops there when no step/episode budget is set). */
    stopAtTarget: z.boolean().default(false),
    window: z.number().int().positive().default(100),
  }).prefault({}),
  eval: z.strictObject({
    episodes: z.number().int().nonnegative().default(10),
    seed: z.number().int().nonnegative().default(100_000),
    /**
     * IoTIntrusion-v0: the global model's detection metrics on held-out traffic (launch/detection.ts)
     * every `every` aggregation rounds (0 = off), over `episodes` episodes of 200 flows per site (2: one
     * 200-flow episode of a site can hold no attack at all).
     */
    detection: z.strictObject({
      every: z.number().int().nonnegative().default(1),
      episodes: z.number().int().min(1).max(100).default(2),
    }).prefault({}),
  }).prefault({}),
  /** Where metrics and checkpoints go; default runs/<run>. */
  runDir: z.string().optional(),
  /** The run's HTTP endpoint (launch/http.ts): GET / dashboard, /metrics (Prometheus), /healthz, /readyz. Off unless a port is set (0 = any free port). */
  http: z.strictObject({
    port: z.number().int().min(0).max(65535).optional(),
    host: z.string().min(1).default("127.0.0.1"),
  }).prefault({}),
});

export type Experiment = z.infer<typeof ExperimentSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function formatIssues(err: z.ZodError, source: string): string {
  return err.issues
    .map((i) => {
      const path = i.path.join(".") || "(root)";
      const keys = (i as { keys?: string[] }).keys;
      if (i.code === "unrecognized_keys" && keys) return `${source}: unknown key ${keys.map((k) => (path === "(root)" ? k : `${path}.${k}`)).join(", ")}`;
      return `${source}: ${path}: ${i.message}`;
    })
    .join("\n");
}

/** Parses "a.b.c=value" (value read as YAML, so 3 → number, true → boolean, [1,2] → list). */
export function applySet(obj: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf("=");
  if (eq <= 0) throw new ConfigError(`--set ${assignment}: expected key=value`);
  const path = assignment.slice(0, eq).split(".");
  const value = parseYaml(assignment.slice(eq + 1));
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (next === undefined) cur[k] = {};
    else if (typeof next !== "object" || next === null || Array.isArray(next)) throw new ConfigError(`--set ${assignment}: ${k} is not a section`);
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** Validates a raw object (from YAML or code) into a full Experiment with defaults. */
export function parseExperiment(raw: unknown, source = "config", sets: string[] = []): Experiment {
  const obj = (raw ?? {}) as Record<string, unknown>;
  if (typeof obj !== "object" || Array.isArray(obj)) throw new ConfigError(`${source}: the top level must be a mapping`);
  const copy = structuredClone(obj);
  for (const s of sets) applySet(copy, s);
  const where = sets.length ? `${source} (with --set)` : source;
  if ("fedavg" in copy) throw new ConfigError(`${where}: the fedavg section is gone: FedAvg rounds are aggregator.interval and uploads actors.weights`);
  const r = ExperimentSchema.safeParse(copy);
  if (!r.success) throw new ConfigError(formatIssues(r.error, where));
  checkNames(r.data, where);
  return r.data;
}

/** Names that select a registered component must exist; the algorithm's hyperparameters must parse. */
function checkNames(exp: Experiment, where: string): void {
  const known = (what: string, name: string, valid: readonly string[]) => {
    if (!valid.includes(name)) throw new ConfigError(`${where}: ${what}: unknown "${name}"; valid: ${valid.join(", ")}`);
  };
  known("mode", exp.mode, Object.keys(RECIPES));
  known("algorithm", exp.algorithm, Object.keys(ALGORITHMS));
  known("learner.filter.name", exp.learner.filter.name, Object.keys(FILTERS));
  if (exp.aggregator.rule !== undefined) known("aggregator.rule", exp.aggregator.rule, Object.keys(AGGREGATORS));
  known("actors.byzantine.attack", exp.actors.byzantine.attack, ATTACKS);
  if (exp.learner.rateLimit.max > 0 && exp.learner.rateLimit.min > exp.learner.rateLimit.max) throw new ConfigError(`${where}: learner.rateLimit.min ${exp.learner.rateLimit.min} exceeds learner.rateLimit.max ${exp.learner.rateLimit.max}`);
  if (exp.learner.prioritized.enabled && exp.learner.ingest.workers > 0) throw new ConfigError(`${where}: learner.prioritized needs the learner to ingest itself (its sum-tree mirrors its own inserts); set learner.ingest.workers to 0`);
  if (exp.actors.byzantine.count > exp.actors.count) throw new ConfigError(`${where}: actors.byzantine.count ${exp.actors.byzantine.count} exceeds actors.count ${exp.actors.count}`);
  const algo = ALGORITHMS[exp.algorithm]!;
  if (RECIPES[exp.mode]!.learner && !algo.offPolicy) throw new ConfigError(`${where}: mode ${exp.mode} trains a pooled learner on every actor's experience, which needs an off-policy algorithm; ${algo.name} is on-policy: use mode fedavg or local`);
  for (const [key, raw] of [["agent", exp.agent], ["learnerAgent", { ...exp.agent, ...exp.learnerAgent }]] as const) {
    try {
      algo.parseConfig(raw);
    } catch (e) {
      throw new ConfigError(`${where}: ${key}: ${(e as Error).message}`);
    }
  }
}

/**
 * Reads a YAML experiment file, applies --set overrides, NATS_URL / REDIS_URL from the environment.
 * Without a file: the per-env default run (launch/defaults.ts `defaultRun`, the CartPole hybrid with
 * a budget unless `--set env.id=…` names another env).
 */
export function loadExperiment(path: string | undefined, sets: string[] = [], env: NodeJS.ProcessEnv = process.env): Experiment {
  let raw: unknown = path ? {} : defaultRun(envIdOfSets(sets));
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new ConfigError(`cannot read config ${path}: ${(e as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (e) {
      throw new ConfigError(`${path}: invalid YAML: ${(e as Error).message}`);
    }
  }
  const exp = parseExperiment(raw, path ?? "defaults", sets);
  if (env.NATS_URL) exp.transport.nats = env.NATS_URL;
  if (env.REDIS_URL) exp.transport.redis = env.REDIS_URL;
  return exp;
}

export function runDirOf(exp: Experiment): string {
  return exp.runDir ?? `runs/${exp.run}`;
}
