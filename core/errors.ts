/** Why a message was refused. Callers count rejections by this code. */
export type RejectReason =
  | "too_large"
  | "bad_frame"
  | "bad_version"
  | "bad_kind"
  | "checksum"
  | "corrupt"
  | "schema"
  | "size_mismatch"
  | "non_finite"
  | "bad_id"
  | "layout_mismatch"
  | "replay_error";

export class CodecError extends Error {
  constructor(readonly reason: RejectReason, message: string) {
    super(`${reason}: ${message}`);
    this.name = "CodecError";
  }
}

/**
 * Thrown by a batch handler that cannot take a valid batch now (not a refusal): the link answers
 * RETRY, so the sender keeps the batch, backs off and resends — back-pressure on the producers.
 */
export class Backpressure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Backpressure";
  }
}

/** The bucket of sources beyond RejectionCounter's cap. */
export const OTHER_SOURCES = "(other)";

/**
 * Counters of rejections by reason and by source, for metrics. Sources are whatever ids appear on
 * the bus, so at most `maxSources` are named (the first seen); the rest count under "(other)":
 * junk ids cannot grow the counter or the heartbeat that carries it.
 */
export class RejectionCounter {
  readonly byReason: Record<string, number> = {};
  readonly bySource: Record<string, number> = {};
  total = 0;
  private sources = 0;
  constructor(readonly maxSources = 256) {}
  count(reason: string, source = "unknown"): void {
    this.total++;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    if (this.bySource[source] === undefined) {
      if (this.sources >= this.maxSources) source = OTHER_SOURCES;
      else this.sources++;
    }
    this.bySource[source] = (this.bySource[source] ?? 0) + 1;
  }
  snapshot() {
    return { total: this.total, byReason: { ...this.byReason }, bySource: { ...this.bySource } };
  }
}
