/**
 * The global model: what the aggregation node blends into, the learner trains (hybrid) and the
 * link publishes. One object per run's server side holds the holder (the learner's agent, or a
 * bare WeightsStore for FedAvg), which group ships, and the version and round counters.
 */
import type { WeightsHolder } from "../core/agent";
import type { Clock, Period, Timer } from "../core/clock";
import type { ServerLink } from "../core/links";

export class GlobalState {
  /** Bumped whenever the global weights change (a training tick or an aggregation). */
  version = 0;
  /** Aggregation rounds run. */
  round = 0;
  /** Called after every publish with what went out (the learner persists the version: it must never go backwards). */
  readonly onPublished: ((version: number, round: number) => Promise<void> | void)[] = [];
  /** What the publisher sent last (the shipped group), null before the first publish. */
  lastPublished: { version: number; round: number; params: Float32Array } | null = null;
  constructor(readonly holder: WeightsHolder, readonly shipped: string) {}
  params(): Float32Array {
    return this.holder.weights()[this.shipped]!;
  }
  /** Every weight group, the counters and the last published model, for a checkpoint. */
  snapshot(): GlobalSnapshot {
    const p = this.lastPublished;
    return { version: this.version, round: this.round, weights: this.holder.weights(), lastPublished: p ? { ...p, params: p.params.slice() } : null };
  }
  /** Continues from snapshot(). */
  restore(s: GlobalSnapshot): void {
    this.holder.setWeights(s.weights);
    this.version = s.version;
    this.round = s.round;
    this.lastPublished = s.lastPublished ? { ...s.lastPublished, params: s.lastPublished.params.slice() } : null;
  }
  /**
   * Puts back the model as last published (shipped group, version, round): a resumed server's first
   * publish then repeats what clients already hold. restore() afterwards sets the rest.
   */
  restorePublished(s: GlobalSnapshot): void {
    if (!s.lastPublished) return;
    this.holder.setWeights({ [this.shipped]: s.lastPublished.params });
    this.version = s.lastPublished.version;
    this.round = s.lastPublished.round;
  }
}

export interface GlobalSnapshot {
  version: number;
  round: number;
  weights: Record<string, Float32Array>;
  lastPublished: { version: number; round: number; params: Float32Array } | null;
}

/** Publishes the global model through the link: on a timer, on demand, and counts what it sent. */
export class Publisher {
  private timer: Timer | null = null;
  constructor(private readonly state: GlobalState, private readonly link: ServerLink, private readonly clock: Clock, private readonly after?: () => Promise<void>) {}
  start(every?: Period): void {
    if (every) this.timer = this.clock.every(every, () => this.publish(), "global.publish");
  }
  async publish(): Promise<void> {
    const s = this.state;
    const { version, round } = s;
    const params = s.params();
    await this.link.publishGlobal({ version, round, layout: s.holder.layout(), params });
    s.lastPublished = { version, round, params: params.slice() };
    for (const cb of s.onPublished) await cb(version, round);
    await this.after?.();
  }
  stop(): void {
    this.timer?.cancel();
  }
}
