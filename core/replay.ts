import type { TransitionBatch } from "./batch";

export interface ReplayStats {
  kind: "memory" | "redis";
  size: number;
  capacity: number;
  /** Transitions ever inserted (by every client). */
  inserted: number;
  obsDim: number;
  /** Rows read back that failed validation and were skipped. */
  corruptRows: number;
  /** Rows evicted (a distrusted client's): memory counts those not yet overwritten, Redis every row ever removed. */
  evicted?: number;
}

/** Rows by their insert index (0 = the first row ever inserted): [start, end). */
export interface RowRange {
  start: number;
  end: number;
}

/** A fixed-capacity FIFO replay of transitions, sampled uniformly with replacement. */
export interface ReplayStore {
  readonly kind: "memory" | "redis";
  readonly capacity: number;
  readonly obsDim: number;
  /**
   * Appends the batch; returns the total number of transitions ever inserted. With \`once\` (a
   * sender's batch key), a batch already stored under that key is not stored again and −1 is
   * returned: retry dedupe across ingest workers (the Redis replay; a one-process memory replay
   * relies on its link's dedupe and ignores the key).
   */
  insert(batch: TransitionBatch, once?: string): Promise<number>;
  /**
   * Removes the rows of these insert-index ranges that the ring still holds (older ones were
   * already overwritten); sampling no longer returns them. Returns the rows removed.
   */
  evict(ranges: readonly RowRange[]): Promise<number>;
  /** n transitions drawn uniformly with replacement. Rejects when the replay is empty. */
  sample(n: number): Promise<TransitionBatch>;
  /**
   * The rows in these ring slots (slot = insert index mod capacity), in order: prioritized replay
   * draws slots from its own sum-tree and reads them here. A slot that holds no valid row (evicted,
   * corrupt) comes back as a copy of a valid one and is flagged in `missing` (null: none missing).
   * Optional: a store without it cannot back prioritized replay.
   */
  rowsAt?(slots: Int32Array): Promise<{ batch: TransitionBatch; missing: Uint8Array | null }>;
  size(): Promise<number>;
  clear(): Promise<void>;
  stats(): Promise<ReplayStats>;
  close(): Promise<void>;
}
