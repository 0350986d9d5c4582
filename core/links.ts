/**
 * The links between nodes. An actor sees an Uplink (its batches and weights out) and a Downlink
 * (the global model in); the learner side sees a ServerLink (batches and weights from client k,
 * the global model out). Codec, subjects, ACK/REJECTED/RETRY, retry dedupe and the last-value
 * store live behind these (transport/links.ts), once. Adversaries wrap an Uplink.
 */
import type { TransitionBatch } from "./batch";
import type { RejectionCounter } from "./errors";
import type { ParamLayout } from "./params";

export interface WeightsUpload {
  /** The global version the client last merged. */
  version: number;
  /** Env samples behind these weights. */
  samples: number;
  layout: ParamLayout;
  params: Float32Array;
}

export interface GlobalModel {
  version: number;
  round: number;
  layout: ParamLayout;
  params: Float32Array;
}

export interface UplinkStats {
  batchesSent: number;
  bytesSent: number;
  weightsSent: number;
  /** Acknowledged delivery counters (null when batches are fire-and-forget). */
  delivery: { acked: number; rejected: number; lost: number; retries: number; pending: number } | null;
}

export interface Uplink {
  sendTransitions(batch: TransitionBatch): void;
  sendWeights(w: WeightsUpload): void;
  /** Waits until every batch is acknowledged or timeoutMs passes; returns transitions still unacknowledged. */
  drain(timeoutMs: number): Promise<number>;
  stats(): UplinkStats;
  close(): Promise<void>;
}

export interface Downlink {
  /** Calls `cb` with the current global model (if any) and every valid one after; invalid ones are counted. */
  subscribe(cb: (g: GlobalModel) => void): Promise<void>;
  readonly rejected: RejectionCounter;
  close(): Promise<void>;
}

/**
 * Stores a batch from `actor`: resolves true once stored (ACK), false when refused (REJECTED);
 * a rejection means the batch was valid but could not be stored (RETRY). `key` names the sender's
 * batch (actor, seq, ts): the same key again is a retry, stored at most once.
 */
export type BatchHandler = (actor: string, batch: TransitionBatch, key?: string) => Promise<boolean>;
export type WeightsHandler = (actor: string, w: WeightsUpload) => void;

export interface ServerLinkStats {
  /** Batches received again after they were stored (a retry whose ack was lost): acked, not handled twice. */
  duplicates: number;
  receivedBytes: number;
  /** Time spent decoding transition batches (ms). */
  decodeMs: number;
  /** Messages dropped because a handler fell behind. */
  dropped: number;
  /** Global-model messages published and their bytes. */
  published: number;
  publishedBytes: number;
}

export interface ServerLink {
  /** Subscribes: batches go to onBatch, weights to onWeights. Call once. */
  start(onBatch: BatchHandler, onWeights: WeightsHandler): Promise<void>;
  publishGlobal(g: GlobalModel): Promise<void>;
  /** Delivers what is already on its way (the step clock calls it before a round). */
  flush(): Promise<void>;
  /** Resolves when every batch handler under way has finished. */
  drain(): Promise<void>;
  stats(): ServerLinkStats;
  close(): Promise<void>;
}
