/**
 * The global learner of the hybrid recipe:
 *
 *   batch from client k ─ experience filter ─▶ replay (Redis or memory)
 *   tick:  gradient steps on replay samples (updatesPerTick, or replayRatio per accepted transition)
 *
 * It trains the global model's holder (an off-policy Agent with `learn`) in place; the
 * aggregation node blends client weights into the same holder and the publisher ships it.
 * Link, replay, filter, agent and clock are injected; it knows no codec, subjects or NATS.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Agent } from "../core/agent";
import type { TransitionBatch } from "../core/batch";
import type { Clock, Period, Timer } from "../core/clock";
import { Backpressure, type RejectionCounter } from "../core/errors";
import type { ServerLink } from "../core/links";
import type { ReplayStore, RowRange } from "../core/replay";
import type { TransitionLimits } from "../federation/bounds";
import type { ExperienceFilter } from "../federation/filter";
import type { TrustGate } from "../federation/trust-gate";
import type { GlobalState } from "./global";
import { Ingest, type IngestCounters } from "./ingest";
import type { PrioritizedReplay } from "./prioritized";

export interface LearnerConfig {
  tick: Period;
  /** Gradient steps per tick (replayRatio 0), or the most per tick (replayRatio > 0). */
  updatesPerTick: number;
  /** Gradient steps per accepted transition (0 = a fixed updatesPerTick); credit beyond the cap is dropped and counted. */
  replayRatio: number;
  /** Train once the replay holds this many transitions. */
  warmup: number;
  batchSize: number;
  /** Reference states the filter is warmed with from an existing replay. */
  warmSample: number;
  /**
   * Sample:insert rate limiter (Reverb's idea): gradient steps per transition inserted since
   * training began kept within [min, max] (0 = that side off). Above max a tick makes fewer
   * updates (no over-sampling of stale data); below min it makes more, up to 10× updatesPerTick,
   * and with `insertSlack` > 0 it answers new batches RETRY while it owes more than that many updates
   * (inserts wait: it does not fall behind unboundedly). Counted in stats().rateLimit.
   */
  rateLimit?: { min: number; max: number; insertSlack?: number };
}

export interface LearnerDeps {
  agent: Agent;
  replay: ReplayStore;
  filter: ExperienceFilter;
  link: ServerLink;
  global: GlobalState;
  clock: Clock;
  rejected: RejectionCounter;
  config: LearnerConfig;
  /** Plausible magnitudes of observations and rewards; a batch with any value beyond them is refused whole. */
  limits?: TransitionLimits;
  /** Gates each client's batches by its trust and an insert quota; fed TD errors of its rows. */
  gate?: TrustGate;
  /**
   * False when \`fedrl ingest\` workers fill the replay: this learner then only samples and trains,
   * and credits replayRatio from the replay's insert count. Default true (it ingests itself).
   */
  ingest?: boolean;
  /** Where checkpoints go (model + counters); start() resumes from it. */
  checkpointDir?: string;
  /**
   * Prioritized replay: the same store as `replay`, wrapped (nodes/prioritized.ts). The learner
   * then draws by priority, weights each row's loss by its importance weight (when the agent
   * applies row weights) and sets the drawn rows' priorities to their TD errors.
   */
  prioritized?: PrioritizedReplay;
  log?: (line: string) => void;
}

interface Snapshotting {
  snapshot(): unknown;
  restore(s: unknown): void;
}

export interface LearnerSnapshot {
  counters: Counters;
  lastLoss: number;
  credit: number;
  creditedUpTo: number;
  updatesSkipped: number;
  nonFiniteTicks: number;
  rateLimit?: RateLimitCounters;
  rowsOf: [string, RowRange[]][];
  /** The replay's contents and RNG (memory replay), null when the store keeps itself (Redis). */
  replay: unknown;
  filter: unknown;
  gate: ReturnType<TrustGate["state"]> | null;
}

interface Counters extends IngestCounters {
  updates: number;
}

interface RateLimitCounters {
  /** Transitions inserted when training began (the ratio counts from there). */
  insertedAtStart: number | null;
  /** Updates made before then (a resumed learner's earlier ones). */
  updatesAtStart: number | null;
  /** Updates withheld by the max bound, and made beyond the tick's own by the min bound. */
  blocked: number;
  forced: number;
  /** Updates the min bound still wanted after a tick's catch-up cap (summed over ticks). */
  behind: number;
  /** Batches answered RETRY because the learner owed more than insertSlack updates. */
  insertsHeld: number;
}

export class Learner {
  /** The ingest path of this process (null when workers ingest). */
  readonly ingest: Ingest | null;
  private updates = 0;
  /** Transitions the replay held when workers ingest (their insert count), for replayRatio and stats. */
  private insertedByWorkers = 0;
  lastLoss = NaN;
  /** replayRatio bookkeeping: update credit, accepted count already credited, credit dropped at the cap. */
  private credit = 0;
  private creditedUpTo = 0;
  updatesSkipped = 0;
  /** Ticks undone because training made the model non-finite. */
  nonFiniteTicks = 0;
  private timer: Timer | null = null;
  private readonly learn: (b: TransitionBatch, weights?: Float32Array) => { loss: number };
  private readonly rate: RateLimitCounters = { insertedAtStart: null, updatesAtStart: null, blocked: 0, forced: 0, behind: 0, insertsHeld: 0 };
  /** Prioritized replay: importance weights applied (the agent takes row weights), else priorities only. */
  readonly importanceWeights: boolean;

  /** A batch from a client (the ingest path's; refuses everything when workers ingest). */
  onBatch: (actor: string, batch: TransitionBatch, key?: string) => Promise<boolean>;

  /** Cumulative counters: gradient steps and the ingest path's (accepted = the workers' inserts when they ingest). */
  get counters(): Counters {
    const i = this.ingest?.counters ?? { received: this.insertedByWorkers, accepted: this.insertedByWorkers, filtered: 0, refused: 0, duplicates: 0 };
    return { updates: this.updates, ...i };
  }

  get filterMs(): number {
    return this.ingest?.filterMs ?? 0;
  }

  get gate(): TrustGate | null {
    return this.d.gate ?? null;
  }

  constructor(private readonly d: LearnerDeps) {
    const learn = d.agent.learn?.bind(d.agent);
    if (!learn) throw new Error("the hybrid learner needs an off-policy algorithm (its agent has no learn(batch))");
    this.learn = learn;
    this.importanceWeights = d.agent.rowWeights === true;
    if (d.prioritized && !d.agent.tdErrors) throw new Error("prioritized replay needs an agent with tdErrors(batch)");
    if (d.prioritized && d.prioritized.inner !== d.replay) throw new Error("prioritized replay must wrap the learner's replay");
    const tdErrors = d.agent.tdErrors?.bind(d.agent);
    this.ingest = d.ingest === false ? null : new Ingest({
      // Inserts and evictions go through the prioritized wrapper, so its sum-tree mirrors them.
      replay: d.prioritized ?? d.replay, filter: d.filter, rejected: d.rejected, limits: d.limits, gate: d.gate, log: d.log,
      tdErrors: tdErrors ? (b) => (this.updates > 0 ? tdErrors(b) : null) : undefined,
    });
    const ingestBatch = this.ingest?.onBatch;
    this.onBatch = !ingestBatch ? async () => false : async (actor, batch, key) => {
      if (this.owedBeyondSlack()) {
        this.rate.insertsHeld++;
        throw new Backpressure("learner behind its sample:insert ratio (learner.rateLimit.insertSlack)");
      }
      return ingestBatch(actor, batch, key);
    };
    // Every published version is persisted at once, so a restart after a crash continues above it
    // (checkpoints are periodic; actors ignore versions they have already seen).
    if (d.checkpointDir) d.global.onPublished.push((version, round) => this.persistPublished(version, round));
  }

  /** Resumes from a checkpoint if one exists, warms the filter from the replay, starts the tick. */
  async start(): Promise<void> {
    const { replay, clock, config } = this.d;
    await this.resume();
    if ((await replay.size()) > 0) this.d.filter.warm(await replay.sample(Math.min(config.warmSample, 4096)));
    await this.d.prioritized?.adoptExisting();
    if (this.d.prioritized && !this.importanceWeights) this.d.log?.("learner: prioritized replay without importance weights (this agent's learning engine applies no per-row weights; DQN: engine js does)");
    this.timer = clock.every(config.tick, () => this.tick(), "learner.tick");
  }

  /** Gradient steps on replay samples (after warm-up). */
  async tick(): Promise<void> {
    const { replay, config, link } = this.d;
    await link.drain();
    this.d.gate?.decay();
    const { replayRatio, updatesPerTick } = config;
    if (!this.ingest) this.insertedByWorkers = (await replay.stats()).inserted;
    let n = updatesPerTick;
    if (replayRatio > 0) {
      const accepted = this.counters.accepted;
      this.credit += (accepted - this.creditedUpTo) * replayRatio;
      this.creditedUpTo = accepted;
      n = Math.min(updatesPerTick, Math.floor(this.credit));
      this.credit -= n;
      if (this.credit >= 1) {
        this.updatesSkipped += Math.floor(this.credit); // the learner cannot keep the ratio: say so, don't queue it
        this.credit -= Math.floor(this.credit);
      }
    }
    if ((await replay.size()) < Math.max(config.warmup, config.batchSize)) return;
    n = this.limitRate(n);
    if (n === 0) return;
    // The global model never becomes non-finite: a tick whose training would make it so is undone.
    const before = this.d.agent.weights();
    const per = this.d.prioritized;
    for (let i = 0; i < n; i++) {
      if (per) {
        const { batch, slots, weights } = await per.draw(config.batchSize);
        // Priorities from the TD errors the step is about to regress (before the step, as in PER).
        per.update(slots, this.d.agent.tdErrors!(batch));
        this.lastLoss = this.learn(batch, this.importanceWeights ? weights : undefined).loss;
      } else {
        const batch = await replay.sample(config.batchSize);
        this.lastLoss = this.learn(batch).loss;
      }
      this.updates++;
    }
    if (!this.d.global.params().every(Number.isFinite)) {
      this.d.agent.setWeights(before);
      this.nonFiniteTicks++;
      this.d.rejected.count("non_finite_training", "learner");
      this.d.log?.(`learner: ${n} updates made the model non-finite; undone (tick ${this.nonFiniteTicks} so far)`);
      return;
    }
    this.d.global.version++;
  }

  /** The rate limiter's bounds applied to a tick's `n` updates (identity when learner.rateLimit is off). */
  private limitRate(n: number): number {
    const lim = this.d.config.rateLimit;
    if (!lim || (lim.min <= 0 && lim.max <= 0)) return n;
    const inserted = this.counters.accepted;
    const r = this.rate;
    r.insertedAtStart ??= inserted; // the warm-up rows are not owed updates
    const fresh = inserted - r.insertedAtStart;
    const done = this.updates - this.updatesAtStart();
    if (lim.max > 0) {
      const allowed = Math.max(0, Math.floor(lim.max * fresh) - done);
      if (n > allowed) (r.blocked += n - allowed), (n = allowed);
    }
    if (lim.min > 0) {
      const need = this.owed(lim.min);
      const cap = 10 * Math.max(1, this.d.config.updatesPerTick);
      if (need > n) {
        const m = Math.min(need, cap);
        r.forced += m - n;
        r.behind += need - m;
        n = m;
      }
    }
    return n;
  }

  /** Updates the min bound wants beyond those made, counted since training began (insertedAtStart set). */
  private owed(min: number): number {
    return Math.ceil(min * (this.counters.accepted - this.rate.insertedAtStart!)) - (this.updates - this.updatesAtStart());
  }

  /** True while the min bound is owed more than insertSlack updates (then new batches wait). */
  private owedBeyondSlack(): boolean {
    const lim = this.d.config.rateLimit;
    return !!lim && lim.min > 0 && !!lim.insertSlack && this.rate.insertedAtStart !== null && this.owed(lim.min) > lim.insertSlack;
  }

  private updatesAtStart(): number {
    return (this.rate.updatesAtStart ??= this.updates);
  }

  async stats() {
    const g = this.d.global;
    const l = this.d.link.stats();
    const lim = this.d.config.rateLimit;
    const r = this.rate;
    const fresh = r.insertedAtStart === null ? 0 : this.counters.accepted - r.insertedAtStart;
    return {
      rateLimit: lim && (lim.min > 0 || lim.max > 0) ? { min: lim.min, max: lim.max, ratio: fresh > 0 ? (this.updates - this.updatesAtStart()) / fresh : 0, blocked: r.blocked, forced: r.forced, behind: r.behind, insertsHeld: r.insertsHeld } : null,
      prioritized: this.d.prioritized ? { ...this.d.prioritized.prioritizedStats(), importanceWeights: this.importanceWeights } : null,
      version: g.version, round: g.round, ...this.counters, duplicates: l.duplicates + this.counters.duplicates, updatesSkipped: this.updatesSkipped, loss: this.lastLoss,
      ingestMs: l.decodeMs + this.filterMs, receivedBytes: l.receivedBytes, rssMB: process.memoryUsage().rss / 2 ** 20,
      replay: await this.d.replay.stats(), filter: this.d.filter.stats(), rejected: this.d.rejected.snapshot(), dropped: l.dropped,
      gate: this.d.gate?.snapshot() ?? null,
    };
  }

  async checkpoint(): Promise<void> {
    const dir = this.d.checkpointDir;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    await this.d.agent.save(join(dir, "model"));
    const g = this.d.global;
    await writeFile(join(dir, "learner.json"), JSON.stringify({ ...this.counters, version: g.version, round: g.round }));
  }

  private async persistPublished(version: number, round: number): Promise<void> {
    const dir = this.d.checkpointDir!;
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, "published.json.tmp");
    await writeFile(tmp, JSON.stringify({ version, round }));
    await rename(tmp, join(dir, "published.json"));
  }

  private async resume(): Promise<void> {
    const dir = this.d.checkpointDir;
    if (!dir) return;
    const read = async <T>(file: string): Promise<T | null> => {
      try {
        return JSON.parse(await readFile(join(dir, file), "utf8")) as T;
      } catch {
        return null;
      }
    };
    const saved = await read<Counters & { version: number; round: number }>("learner.json");
    // Published after the last checkpoint (then the process died): continue above it (a clean stop
    // checkpoints the version it published last, so it resumes at that same version).
    const published = await read<{ version: number; round: number }>("published.json");
    const g = this.d.global;
    if (saved) {
      await this.d.agent.restore(join(dir, "model"));
      const { version, round, ...counters } = saved;
      this.restoreCounters(counters);
      g.version = version;
      g.round = round;
      this.creditedUpTo = this.counters.accepted;
    }
    if (published && published.version > g.version) {
      g.version = published.version + 1;
      g.round = Math.max(g.round, published.round);
    }
    if (saved || published) this.d.log?.(`resumed from ${dir}: version ${g.version}, round ${g.round}, ${this.counters.updates} updates`);
  }


  /**
   * Counters, update credit, each client's replay rows, and the state of the replay (when it can
   * give one: the memory replay), the filter and the gate, for a checkpoint of an embedded run.
   */
  snapshot(): LearnerSnapshot {
    const replay = (this.d.prioritized ?? this.d.replay) as ReplayStore & Partial<Snapshotting>;
    return {
      counters: { ...this.counters }, lastLoss: this.lastLoss, credit: this.credit, creditedUpTo: this.creditedUpTo, updatesSkipped: this.updatesSkipped, nonFiniteTicks: this.nonFiniteTicks,
      rateLimit: { ...this.rate },
      rowsOf: this.ingest?.rows() ?? [],
      replay: replay.snapshot ? replay.snapshot() : null, filter: this.d.filter.snapshot?.() ?? null, gate: this.d.gate?.state() ?? null,
    };
  }

  /** Continues from snapshot() (the agent restored separately); false when the replay or filter could not be restored. */
  restore(s: LearnerSnapshot): boolean {
    this.restoreCounters(s.counters);
    this.lastLoss = s.lastLoss;
    this.credit = s.credit;
    this.creditedUpTo = s.creditedUpTo;
    this.updatesSkipped = s.updatesSkipped;
    this.nonFiniteTicks = s.nonFiniteTicks;
    if (s.rateLimit) Object.assign(this.rate, s.rateLimit);
    this.ingest?.restoreRows(s.rowsOf);
    if (s.gate) this.d.gate?.restore(s.gate);
    let complete = true;
    const replay = (this.d.prioritized ?? this.d.replay) as ReplayStore & Partial<Snapshotting>;
    if (s.replay !== null && replay.restore) replay.restore(s.replay);
    else complete = false;
    if (s.filter !== null && this.d.filter.restore) this.d.filter.restore(s.filter);
    else complete = false;
    return complete;
  }

  private restoreCounters(c: Partial<Counters>): void {
    const { updates = 0, ...ingest } = c;
    this.updates = updates;
    if (this.ingest) Object.assign(this.ingest.counters, ingest);
  }

  /** Stops the tick (the link's batches already drained by the caller), checkpoints. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    await this.d.link.drain();
    await this.checkpoint();
  }
}
