/**
 * The ingest path of the hybrid recipe: a client's batch → bounds → trust gate → experience filter
 * → replay insert. The global learner runs one in its own process by default; `fedrl ingest`
 * workers run it beside the learner, sharing a NATS queue group and the Redis replay, so decoding,
 * validation and filtering scale out while the learner only samples and trains.
 *
 * Retry dedupe across workers: each batch carries its sender's (seq, ts); the replay stores a
 * batch under that key at most once (Redis: SET NX in the insert's Lua call), so a retry that the
 * queue group hands to another worker is acknowledged without a second copy.
 *
 * Link, replay, filter and gate are injected; it knows no codec, subjects or NATS.
 */
import type { TransitionBatch } from "../core/batch";
import { filterBatch, sliceBatch } from "../core/batch";
import type { RejectionCounter } from "../core/errors";
import type { ReplayStore, RowRange } from "../core/replay";
import { batchOutOfBounds, type TransitionLimits } from "../federation/bounds";
import type { ExperienceFilter } from "../federation/filter";
import type { TrustGate } from "../federation/trust-gate";

/**
 * Rows per batch whose TD error feeds the gate. The gate keeps an EMA per client, so a few rows of
 * every batch estimate it well; the forward passes were a third of an ingest worker's CPU at 64.
 */
const TD_ROWS = 16;

export interface IngestDeps {
  replay: ReplayStore;
  filter: ExperienceFilter;
  rejected: RejectionCounter;
  /** Plausible magnitudes of observations and rewards; a batch with any value beyond them is refused whole. */
  limits?: TransitionLimits;
  /** Gates each client's batches by its trust and an insert quota; fed its rows' rewards and TD errors. */
  gate?: TrustGate;
  /** TD errors of rows under the current global model, once it has been trained (null before): the gate's data check. */
  tdErrors?: (batch: TransitionBatch) => Float32Array | null;
  log?: (line: string) => void;
}

export interface IngestCounters {
  received: number;
  accepted: number;
  filtered: number;
  /** Rows of batches refused whole (out of bounds, gated). */
  refused: number;
  /** Batches stored before under the same key (a retry another worker already stored): acknowledged, not stored again. */
  duplicates: number;
}

export class Ingest {
  readonly counters: IngestCounters = { received: 0, accepted: 0, filtered: 0, refused: 0, duplicates: 0 };
  /** Time spent on bounds, gate and filter (ms). */
  filterMs = 0;
  /** With a gate: each client's rows in the replay, by insert index, so a distrusted client's can be evicted. */
  private readonly rowsOf = new Map<string, RowRange[]>();

  constructor(private readonly d: IngestDeps) {}

  /**
   * A batch from a client: bounds, gate, filter, store. True once stored (or stored before under
   * `key`), false when refused; a throw (replay down) means retry.
   */
  onBatch = async (actor: string, batch: TransitionBatch, key?: string): Promise<boolean> => {
    const t0 = performance.now();
    const c = this.counters;
    c.received += batch.n;
    const bad = this.d.limits ? batchOutOfBounds(batch, this.d.limits) : null;
    const { gate } = this.d;
    // The data checks, on every plausible batch (so a client's trust can recover): its mean reward,
    // and the TD errors of (up to TD_ROWS of) its rows under the global model.
    if (!bad && gate) {
      let r = 0;
      for (let i = 0; i < batch.n; i++) r += batch.rewards[i]!;
      gate.observeReward(actor, r / Math.max(1, batch.n));
      const td = this.d.tdErrors?.(batch.n > TD_ROWS ? sliceBatch(batch, 0, TD_ROWS) : batch);
      if (td && td.length > 0) gate.observeTd(actor, td);
    }
    const admitted = bad ?? (gate ? gate.admit(actor, batch.n) : "ok");
    if (admitted !== "ok") {
      this.d.rejected.count(admitted === "distrusted" ? "gated" : admitted, actor);
      c.refused += batch.n;
      if (admitted === "distrusted") await this.evictRowsOf(actor);
      return false;
    }
    const kept = filterBatch(batch, this.d.filter.keep(batch));
    this.filterMs += performance.now() - t0;
    // Even a batch the filter emptied is recorded under its key: its retry must not be filtered anew.
    if (kept.n === 0 && key === undefined) {
      c.filtered += batch.n;
      return true;
    }
    const total = await this.d.replay.insert(kept, key);
    if (total < 0) {
      c.duplicates++;
      return true;
    }
    c.filtered += batch.n - kept.n;
    if (kept.n > 0) {
      c.accepted += kept.n;
      if (gate) {
        gate.onAccepted(actor, kept.n);
        this.track(actor, total - kept.n, total);
      }
    }
    return true;
  };

  private track(actor: string, start: number, end: number): void {
    let list = this.rowsOf.get(actor);
    if (!list) this.rowsOf.set(actor, (list = []));
    const last = list[list.length - 1];
    if (last && last.end === start) last.end = end;
    else list.push({ start, end });
    if (list.length > 256) {
      // Ranges the ring has overwritten since can go.
      const held = end - this.d.replay.capacity;
      this.rowsOf.set(actor, list.filter((r) => r.end > held));
    }
  }

  /** A client just distrusted: its rows still in the replay are evicted (once; counted per client). */
  private async evictRowsOf(actor: string): Promise<void> {
    const ranges = this.rowsOf.get(actor);
    if (!ranges || ranges.length === 0) return;
    this.rowsOf.delete(actor);
    const n = await this.d.replay.evict(ranges);
    this.d.gate?.onEvicted(actor, n);
    if (n > 0) this.d.log?.(`trust gate: ${actor} distrusted; evicted its ${n} rows from the replay`);
  }

  /** Each client's tracked rows (for a checkpoint). */
  rows(): [string, RowRange[]][] {
    return [...this.rowsOf].map(([a, r]) => [a, r.map((x) => ({ ...x }))]);
  }

  restoreRows(rows: [string, RowRange[]][]): void {
    this.rowsOf.clear();
    for (const [a, r] of rows) this.rowsOf.set(a, r.map((x) => ({ ...x })));
  }
}
