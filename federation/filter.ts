/**
 * An experience filter decides, row by row, which transitions of an incoming batch enter the
 * shared replay. Registry by the name a config gives in `learner.filter.name`.
 */
import type { TransitionBatch } from "../core/batch";
import { DiversityFilter } from "./diversity";

export interface FilterStats {
  name: string;
  accepted: number;
  rejected: number;
  acceptRate: number;
  references: number;
  /** The threshold in use (diversity: config θ, or the accept-rate quantile). */
  theta?: number;
}

export interface ExperienceFilter {
  /** A 0/1 keep mask, one entry per row, decided in order. */
  keep(batch: TransitionBatch): Uint8Array;
  /** Seeds the filter's reference set from transitions already stored (a restarted learner). */
  warm(sample: TransitionBatch): void;
  stats(): FilterStats;
  /** Its whole state (counters, reference set, RNG) as plain data and typed arrays, for a checkpoint. */
  snapshot?(): unknown;
  /** Continues from snapshot(). */
  restore?(s: unknown): void;
}

export interface FilterSettings {
  k: number;
  theta: number;
  reservoir: number;
  /** Diversity: distances on running-standardised states (θ scale-free). */
  standardize?: boolean;
  /** Diversity: θ from the quantile of recent distances that keeps about this fraction (0 = fixed θ). */
  acceptRate?: number;
}

export interface FilterContext {
  obsDim: number;
  replayCapacity: number;
  seed: number;
}

/** Accepts everything (counted): the no-filter ablation. */
export class NoFilter implements ExperienceFilter {
  accepted = 0;
  keep(batch: TransitionBatch): Uint8Array {
    this.accepted += batch.n;
    return new Uint8Array(batch.n).fill(1);
  }
  warm(): void {}
  snapshot(): { accepted: number } {
    return { accepted: this.accepted };
  }
  restore(s: unknown): void {
    this.accepted = (s as { accepted: number }).accepted;
  }
  stats(): FilterStats {
    return { name: "none", accepted: this.accepted, rejected: 0, acceptRate: 1, references: 0 };
  }
}

export const FILTERS: Readonly<Record<string, (s: FilterSettings, c: FilterContext) => ExperienceFilter>> = {
  diversity: (s, c) => new DiversityFilter(c.obsDim, { ...s, replayCapacity: c.replayCapacity }, c.seed),
  none: () => new NoFilter(),
};

export function filterNamed(name: string, s: FilterSettings, c: FilterContext): ExperienceFilter {
  const make = FILTERS[name];
  if (!make) throw new Error(`unknown experience filter "${name}"; valid: ${Object.keys(FILTERS).join(", ")}`);
  return make(s, c);
}
