/**
 * Held-out detection evaluation of a run's policy on IoTIntrusion-v0 (envs/iot/detection.ts):
 * `fedrl eval` on a checkpoint, and the probe the server runs on the global model after
 * aggregation rounds (eval.detection), whose points go to the run's metrics.
 *
 * What is held out:
 * - sites: every site k = 0..K−1 of the run's env options (K = actors.count with
 *   env.perActorSite, else options.sites, default 5), with the run's alpha, splitSeed,
 *   calibration, reward and dynamics: the sites training saw and, without perActorSite, the ones
 *   it did not;
 * - episodes: seeds from eval.seed (or --seed) upward that no actor resets its envs with. Actor i
 *   resets env copy c with seed seedOf(i).env + c, and a resume that cannot restore the envs'
 *   state reseeds at seedOf(i).env + episodes (+ c); `trainingSeedRanges` bounds those by the
 *   budget (episodes ≤ stepsPerActor / episode length) and `heldOutSeeds` skips them (actors
 *   0..actors.count−1; an actor process started with a foreign id has a hashed index, not
 *   covered). Site k's e-th episode uses heldOutSeeds[e·K + k], so the probe's episodes are a
 *   prefix of what `fedrl eval` runs;
 * - CSV sources: the file split training did not draw rows from (the env's `split` option: the
 *   loader's content-hash split for CIC-IDS2017, the official files for UNSW-NB15);
 * - random streams: the envs' generator (mulberry32, envs/iot/rng.ts) walks one cycle of 2^32
 *   states, a seed only picks where a stream starts, so different seeds can still share draws
 *   further on. `heldOutSeeds` also skips seeds whose evaluation stream (episode flows ×
 *   DRAWS_PER_FLOW draws from its start) would meet an actor's training stream (its share of
 *   budget.stepsPerActor × DRAWS_PER_FLOW draws from each copy's start seed); without a budget
 *   only the seeds are kept apart.
 */
import type { Agent } from "../core/agent";
import { make } from "../envs/index";
import { evaluateDetector, heldOutSplit, type DetectionReport, type Detector, type HeldOutSite } from "../envs/iot/detection";
import { loadDatasetSync } from "../envs/iot/loaders";
import { DEFAULT_MAX_PER_FAMILY } from "../envs/iot/intrusion";
import { Rng } from "../envs/iot/rng";
import type { DatasetId } from "../envs/iot/families";
import type { Experiment } from "./config";
import { seedOf } from "./seeds";

export const DETECTION_ENV = "IoTIntrusion-v0";
/** Flows per IoTIntrusion-v0 episode unless env.options.maxEpisodeSteps says otherwise (envs/iot/register.ts). */
const EPISODE_FLOWS = 200;

/** Flows per episode of the run's env. */
export function episodeFlows(exp: Experiment): number {
  const m = exp.env.options.maxEpisodeSteps;
  return typeof m === "number" && m > 0 ? m : EPISODE_FLOWS;
}

/** The run's sites: how many, and each one's env options. */
export function detectionSites(exp: Experiment): { sites: number; options: Record<string, unknown>[] } {
  const o = exp.env.options;
  const K = exp.env.perActorSite ? exp.actors.count : typeof o.sites === "number" ? o.sites : 5;
  return { sites: K, options: Array.from({ length: K }, (_, k) => ({ ...o, site: k, sites: K })) };
}

/** Seeds of actor `actor`'s envs: [lo, lo + len) modulo 2^32 (the IoT generator reads seed >>> 0). */
export interface SeedRange { actor: number; lo: number; len: number }

/**
 * Every seed the run's actors reset their envs with: copies at start, and resumes (at most one
 * reseed per finished episode). `resumeBound` is the episodes allowed for by the budget; null when
 * the run has no step or episode budget (then only the start seeds are known).
 */
export function trainingSeedRanges(exp: Experiment): { ranges: SeedRange[]; resumeBound: number | null } {
  const b = exp.budget;
  const resumeBound = b.episodesPerActor > 0 ? b.episodesPerActor : b.stepsPerActor > 0 ? Math.ceil(b.stepsPerActor / episodeFlows(exp)) : null;
  const len = exp.env.numEnvs + (resumeBound ?? 0);
  return { ranges: Array.from({ length: exp.actors.count }, (_, i) => ({ actor: i, lo: seedOf(exp, i).env >>> 0, len })), resumeBound };
}

/**
 * Draws an IoTIntrusion-v0 step takes from the env's generator, as a bound: 20.2 on average
 * (measured: 80,845 draws for 4,000 flows of site 0, α 0.3, synthetic); ×3 for margin.
 */
export const DRAWS_PER_FLOW = 64;
/** core/random.ts: every draw adds this to the 32-bit state (a Weyl sequence). */
const WEYL = 0x6d2b79f5;
const WEYL_INV = (() => {
  let x = WEYL; // Newton's iteration for the inverse mod 2^32 (3 → 6 → 12 → 24 → 48 correct bits)
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(WEYL, x));
  return x >>> 0;
})();

/** Where the env stream a seed starts sits on the generator's cycle: its state / WEYL mod 2^32 (in draws). */
export function streamPosition(seed: number): number {
  return Math.imul(new Rng(seed).state, WEYL_INV) >>> 0;
}

/** Do [a, a + la) and [b, b + lb) meet on the cycle of 2^32? */
const meets = (a: number, la: number, b: number, lb: number) => ((b - a) >>> 0) < la || ((a - b) >>> 0) < lb;

/** The actors' training streams: each env copy's start position and the draws its budget allows (null without a budget). */
export function trainingStreams(exp: Experiment): { start: number; draws: number }[] | null {
  const b = exp.budget, E = exp.env.numEnvs;
  const flowsPerCopy = b.stepsPerActor > 0 ? Math.ceil(b.stepsPerActor / E) : b.episodesPerActor > 0 ? b.episodesPerActor * episodeFlows(exp) : null;
  if (flowsPerCopy === null) return null;
  const out: { start: number; draws: number }[] = [];
  for (let i = 0; i < exp.actors.count; i++) for (let c = 0; c < E; c++) out.push({ start: streamPosition(seedOf(exp, i).env + c), draws: flowsPerCopy * DRAWS_PER_FLOW });
  return out;
}

/**
 * `n` seeds from `from` upward (modulo 2^32) that are in no training seed range and whose
 * streams (`flows` per episode) do not meet a training stream.
 */
export function heldOutSeeds(exp: Experiment, n: number, from = exp.eval.seed, flows = episodeFlows(exp)): number[] {
  const { ranges } = trainingSeedRanges(exp);
  const streams = trainingStreams(exp) ?? [];
  const out: number[] = [];
  let s = from >>> 0;
  for (let guard = 0; out.length < n; guard++) {
    if (guard > 1e6) throw new Error(`cannot find ${n} held-out seeds from ${from}: the actors' seeds and streams cover them`);
    const hit = ranges.find((r) => ((s - r.lo) >>> 0) < r.len);
    if (hit) {
      s = (hit.lo + hit.len) >>> 0; // jump past the range
      continue;
    }
    const p = streamPosition(s);
    if (!streams.some((t) => meets(p, flows * DRAWS_PER_FLOW, t.start, t.draws))) out.push(s);
    s = (s + 1) >>> 0;
  }
  return out;
}

/** What a held-out set is made of, for reports. */
export interface HeldOutDescription {
  sites: number;
  episodesPerSite: number;
  flows: number;
  /** Site k's episode e uses seeds[e·sites + k]. */
  seeds: number[];
  /** CSV sources: the split evaluated (training drew from the other); null for synthetic traffic. */
  split: "train" | "test" | null;
  source: string;
}

/** The held-out envs and seeds of a run (caller closes the envs: `closeSites`). */
export function heldOutSet(exp: Experiment, episodesPerSite: number, from = exp.eval.seed): { sites: HeldOutSite[]; description: HeldOutDescription } {
  if (exp.env.id !== DETECTION_ENV) throw new Error(`detection evaluation needs ${DETECTION_ENV}, the run's env is ${exp.env.id}`);
  if (!Number.isInteger(episodesPerSite) || episodesPerSite < 1) throw new RangeError(`episodes per site must be a positive integer, got ${episodesPerSite}`);
  const { sites: K, options } = detectionSites(exp);
  const split = heldOutSplit(exp.env.options);
  const source = String(exp.env.options.source ?? "synthetic");
  // A CSV source is loaded once for every site (each env would load it again otherwise).
  // Capped per family like the env's own load (bounded memory on the full dataset files).
  const maxPerFamily = Number(exp.env.options.maxPerFamily ?? DEFAULT_MAX_PER_FAMILY);
  const data = split ? { split, dataset: loadDatasetSync(source as DatasetId, `${String(exp.env.options.dataDir ?? "data")}/${source}`, { maxPerFamily }) } : {};
  const seeds = heldOutSeeds(exp, K * episodesPerSite, from);
  const sites: HeldOutSite[] = [];
  try {
    for (let k = 0; k < K; k++) {
      sites.push({ site: k, env: make(DETECTION_ENV, { ...options[k], ...data }), seeds: Array.from({ length: episodesPerSite }, (_, e) => seeds[e * K + k]!) });
    }
  } catch (e) {
    closeSites(sites);
    throw e;
  }
  return { sites, description: { sites: K, episodesPerSite, flows: K * episodesPerSite * episodeFlows(exp), seeds, split, source } };
}

export function closeSites(sites: readonly HeldOutSite[]): void {
  for (const s of sites) s.env.close?.();
}

/** An agent as a detector: its greedy action, and its per-action scores when it has them. */
export function detectorOf(agent: Pick<Agent, "act" | "actionScores">): Detector {
  return {
    act: (obs) => agent.act(obs, "greedy"),
    ...(agent.actionScores ? { scores: (obs: Float32Array) => agent.actionScores!(obs) } : {}),
  };
}

/** `fedrl eval`'s detection block: the agent on `episodesPerSite` held-out episodes of every site. */
export function evaluateDetection(agent: Pick<Agent, "act" | "actionScores">, exp: Experiment, episodesPerSite: number, from = exp.eval.seed): { report: DetectionReport; set: HeldOutDescription } {
  const { sites, description } = heldOutSet(exp, episodesPerSite, from);
  try {
    return { report: evaluateDetector(detectorOf(agent), sites), set: description };
  } finally {
    closeSites(sites);
  }
}

/** One point of the detection curve a run writes (event "detection" of the learner's or aggregator's metrics). */
export interface DetectionPoint {
  round: number;
  /** Global model version evaluated. */
  version: number;
  /** The run's clock when evaluated (env steps per actor on the step clock, ms on the wall clock). */
  clock: number;
  flows: number;
  /**
   * Malicious flows among them. The loop is closed: a policy that quarantines every device stops
   * campaigns from starting, so a probe can hold no attack (recall, F1, AUCs are NaN, null in
   * JSON, and benignLostPer1k shows the cost of it).
   */
  malicious: number;
  f1: number;
  precision: number;
  recall: number;
  fpr: number;
  rocAuc: number;
  prAuc: number;
  tprAtFpr1: number;
  worstSiteF1: number;
  worstSite: string | null;
  worstSiteF1Gap: number;
  damagePer1k: number;
  benignLostPer1k: number;
  escalationsPer1k: number;
  /** F1 per site index. */
  siteF1: Record<string, number>;
  /** Wall seconds the evaluation took. */
  seconds: number;
}

export function detectionPoint(r: DetectionReport, at: { round: number; version: number; clock: number }, seconds: number): DetectionPoint {
  const p = r.pooled;
  return {
    ...at, flows: p.n, malicious: p.malicious, f1: p.f1, precision: p.precision, recall: p.recall, fpr: p.fpr, rocAuc: p.rocAuc, prAuc: p.prAuc, tprAtFpr1: p.tprAtFpr1,
    worstSiteF1: r.worstSiteF1, worstSite: r.worstSite, worstSiteF1Gap: r.worstSiteF1Gap,
    damagePer1k: p.damagePer1k, benignLostPer1k: p.benignLostPer1k, escalationsPer1k: p.escalationsPer1k,
    siteF1: Object.fromEntries(Object.entries(r.sites).map(([k, m]) => [k, m.f1])), seconds,
  };
}

/**
 * The per-round probe: a small fixed held-out set (eval.detection.episodes per site, same seeds
 * every time, so points differ only by the model), built on first use and reused. It draws from no
 * random source the run uses, so a step-clock run stays reproducible.
 */
export class DetectionProbe {
  private sites: HeldOutSite[] | null = null;
  readonly every: number;
  readonly episodes: number;

  constructor(private readonly exp: Experiment) {
    this.every = exp.eval.detection.every;
    this.episodes = exp.eval.detection.episodes;
  }

  /** Probes this run at all (IoTIntrusion-v0, every > 0). */
  static enabled(exp: Experiment): boolean {
    return exp.env.id === DETECTION_ENV && exp.eval.detection.every > 0;
  }

  due(round: number): boolean {
    return this.every > 0 && round % this.every === 0;
  }

  run(agent: Pick<Agent, "act" | "actionScores">, at: { round: number; version: number; clock: number }): DetectionPoint {
    const t0 = performance.now();
    this.sites ??= heldOutSet(this.exp, this.episodes).sites;
    const r = evaluateDetector(detectorOf(agent), this.sites);
    return detectionPoint(r, at, (performance.now() - t0) / 1000);
  }

  close(): void {
    if (this.sites) closeSites(this.sites);
    this.sites = null;
  }
}
