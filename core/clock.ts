/**
 * Timers for the learner tick, weight uploads, aggregation and FedAvg rounds.
 * WallClock fires on milliseconds (deployment); StepClock fires every N environment steps, so
 * benchmark runs are reproducible on a noisy machine. A period carries both units; each clock
 * reads its own.
 */
export interface Period {
  ms: number;
  steps: number;
}

export interface Timer {
  cancel(): void;
}

export type TimerFn = () => void | Promise<void>;

export interface Clock {
  readonly kind: "wall" | "steps";
  /** Calls fn every period. A call still running when the next is due is not re-entered (the tick is skipped). */
  every(period: Period, fn: TimerFn, name?: string): Timer;
  /** Current time in this clock's unit: ms since epoch (wall) or env steps (steps). */
  now(): number;
  /** A period in this clock's unit. */
  units(period: Period): number;
  stop(): void;
}

export class WallClock implements Clock {
  readonly kind = "wall" as const;
  private timers = new Set<NodeJS.Timeout>();
  constructor(private readonly onError: (name: string, e: unknown) => void = () => {}) {}
  now(): number {
    return Date.now();
  }
  units(period: Period): number {
    return period.ms;
  }
  every(period: Period, fn: TimerFn, name = "timer"): Timer {
    if (!(period.ms > 0)) throw new Error(`${name}: period.ms must be > 0`);
    let busy = false;
    const t = setInterval(() => {
      if (busy) return;
      busy = true;
      Promise.resolve()
        .then(fn)
        .catch((e) => this.onError(name, e))
        .finally(() => (busy = false));
    }, period.ms);
    this.timers.add(t);
    return { cancel: () => { clearInterval(t); this.timers.delete(t); } };
  }
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
  }
}

interface StepTimer { every: number; next: number; fn: TimerFn; name: string; cancelled: boolean }

/** Fires timers as `advance(n)` moves a step counter; `advance` resolves when the fired timers finish. */
export class StepClock implements Clock {
  readonly kind = "steps" as const;
  private steps = 0;
  private timers: StepTimer[] = [];
  constructor(private readonly onError: (name: string, e: unknown) => void = (n, e) => { throw Object.assign(new Error(`${n}: ${(e as Error)?.message ?? e}`), { cause: e }); }) {}
  now(): number {
    return this.steps;
  }
  units(period: Period): number {
    return period.steps;
  }
  every(period: Period, fn: TimerFn, name = "timer"): Timer {
    if (!(period.steps > 0) || !Number.isInteger(period.steps)) throw new Error(`${name}: period.steps must be a positive integer`);
    const t: StepTimer = { every: period.steps, next: this.steps + period.steps, fn, name, cancelled: false };
    this.timers.push(t);
    return { cancel: () => { t.cancelled = true; this.timers = this.timers.filter((x) => x !== t); } };
  }
  async advance(n: number): Promise<void> {
    this.steps += n;
    for (const t of [...this.timers]) {
      // A timer due several times in one advance fires once per period crossed, in order.
      while (!t.cancelled && this.steps >= t.next) {
        t.next += t.every;
        try {
          await t.fn();
        } catch (e) {
          this.onError(t.name, e);
        }
      }
    }
  }
  stop(): void {
    this.timers = [];
  }
  /** The step count and each live timer's next due step (by name, in firing order), for a checkpoint. */
  snapshot(): StepClockSnapshot {
    return { steps: this.steps, timers: this.timers.map((t) => ({ name: t.name, every: t.every, next: t.next })) };
  }
  /**
   * Continues from snapshot(): the step count, and the phase of every timer registered again since
   * (matched by name and period, in order). Throws when the timers differ from the snapshot's.
   */
  restore(s: StepClockSnapshot): void {
    const live = this.timers.map((t) => `${t.name}/${t.every}`).join(", "), saved = s.timers.map((t) => `${t.name}/${t.every}`).join(", ");
    if (live !== saved) throw new Error(`step clock: the timers (${live}) are not the checkpoint's (${saved})`);
    this.steps = s.steps;
    s.timers.forEach((t, i) => (this.timers[i]!.next = t.next));
  }
}

export interface StepClockSnapshot {
  steps: number;
  timers: { name: string; every: number; next: number }[];
}
