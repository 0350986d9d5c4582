/**
 * Exploration schedules. Pure functions of (env step, episode) plus, for the per-episode
 * exponential schedule, the current value: ε ← max(end, ε · decay) at each episode end.
 */

export type EpsilonSchedule =
  | { kind: "linear"; start: number; end: number; /** env steps from start to end */ steps: number }
  | { kind: "exponential"; start: number; end: number; /** multiplier per finished episode */ decay: number };

/** A value moving linearly from `start` to `end` over `steps` (clamped at `end`), at `step`. */
export function linearSchedule(start: number, end: number, steps: number, step: number): number {
  if (steps <= 0 || step >= steps) return end;
  const f = Math.min(1, Math.max(0, step / steps));
  return start + (end - start) * f;
}

/** Linear ε at env step `step` (clamped at `end`). */
export const linearEpsilon = linearSchedule;

/** Exponential ε after `episodes` finished episodes: max(end, start · decay^episodes). */
export function exponentialEpsilon(start: number, end: number, decay: number, episodes: number): number {
  return Math.max(end, start * Math.pow(decay, episodes));
}

/** ε for a schedule at (env step, finished episodes). */
export function epsilonAt(s: EpsilonSchedule, step: number, episodes: number): number {
  return s.kind === "linear" ? linearEpsilon(s.start, s.end, s.steps, step) : exponentialEpsilon(s.start, s.end, s.decay, episodes);
}

/**
 * Stateful ε tracker: call `onStep()` per env step and `onEpisodeEnd()` per finished episode.
 * The exponential form multiplies the current value (as the seed client does) rather than
 * recomputing a power, so it is exact to resume from a saved `value`.
 */
export class EpsilonTracker {
  value: number;
  constructor(readonly schedule: EpsilonSchedule, private steps = 0) {
    this.value = schedule.kind === "linear" ? linearEpsilon(schedule.start, schedule.end, schedule.steps, steps) : schedule.start;
  }
  onStep(): void {
    this.steps++;
    if (this.schedule.kind === "linear") this.value = linearEpsilon(this.schedule.start, this.schedule.end, this.schedule.steps, this.steps);
  }
  onEpisodeEnd(): void {
    if (this.schedule.kind === "exponential") this.value = Math.max(this.schedule.end, this.value * this.schedule.decay);
  }
  get stepCount(): number {
    return this.steps;
  }
  restore(value: number, steps: number): void {
    this.value = value;
    this.steps = steps;
  }
}
