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

/** Counters of rejections by reason and by source, for metrics. */
export class RejectionCounter {
  readonly byReason: Record<string, number> = {};
  readonly bySource: Record<string, number> = {};
  total = 0;
  count(reason: string, source = "unknown"): void {
    this.total++;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    this.bySource[source] = (this.bySource[source] ?? 0) + 1;
  }
  snapshot() {
    return { total: this.total, byReason: { ...this.byReason }, bySource: { ...this.bySource } };
  }
}
