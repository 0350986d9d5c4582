/**
 * Acknowledged delivery of transition batches: each batch is a request the learner answers once
 * the batch is in the replay (ACK), rejected it (REJECTED: malformed, retrying cannot help) or
 * could not store it (RETRY). At most `window` requests are in flight; unanswered or RETRY batches
 * are sent again with exponential backoff. The queue is bounded: when it is full the oldest batch
 * is dropped and counted as lost, never queued without limit. Knows only the Bus interface.
 */
import type { Bus } from "../core/bus";
import { TRANSITION_REPLY as REPLY } from "./subjects";

export interface OutboxOptions {
  /** Requests in flight at once. */
  window: number;
  /** Batches waiting (not yet acknowledged, in flight excluded) before the oldest is dropped. */
  maxQueued: number;
  timeoutMs: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  log?: (line: string) => void;
}

interface Item {
  subject: string;
  bytes: Uint8Array;
  transitions: number;
  tries: number;
}

export class Outbox {
  /** Transitions acknowledged as stored / rejected by the learner / dropped here because the queue was full. */
  acked = 0;
  rejected = 0;
  lost = 0;
  retries = 0;
  private queue: Item[] = [];
  private inFlight = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly bus: Bus, private readonly o: OutboxOptions) {}

  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  send(subject: string, bytes: Uint8Array, transitions: number): void {
    if (this.closed) {
      this.lost += transitions;
      return;
    }
    if (this.queue.length >= this.o.maxQueued) {
      const old = this.queue.shift()!;
      this.lost += old.transitions;
      this.o.log?.(`outbox full (${this.o.maxQueued} batches): dropped the oldest batch (${old.transitions} transitions); ${this.lost} lost so far`);
    }
    this.queue.push({ subject, bytes, transitions, tries: 0 });
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.o.window && this.queue.length > 0 && this.retryTimer === null) {
      const item = this.queue.shift()!;
      this.inFlight++;
      this.bus.request(item.subject, item.bytes, { timeoutMs: this.o.timeoutMs }).then(
        (reply) => {
          this.inFlight--;
          if (reply[0] === REPLY.ACK) this.acked += item.transitions;
          else if (reply[0] === REPLY.REJECTED) this.rejected += item.transitions;
          else this.again(item);
          this.settle();
        },
        () => {
          this.inFlight--;
          this.again(item); // timeout or no responders: the learner is busy, restarting or gone
          this.settle();
        },
      );
    }
  }

  private again(item: Item): void {
    if (this.closed) {
      this.lost += item.transitions;
      return;
    }
    item.tries++;
    this.retries++;
    this.queue.unshift(item);
    if (this.retryTimer === null) {
      const base = this.o.backoffMs ?? 100;
      const delay = Math.min(this.o.maxBackoffMs ?? 5000, base * 2 ** Math.min(item.tries - 1, 16));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, delay);
    }
  }

  private settle(): void {
    this.pump();
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when every batch is acknowledged (or rejected), or after timeoutMs; returns what is still pending. */
  async drain(timeoutMs: number): Promise<number> {
    if (this.pending === 0) return 0;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    return this.queue.reduce((s, i) => s + i.transitions, 0);
  }

  /**
   * The delivery counters, for a checkpoint. Only an idle outbox (nothing queued or in flight) has
   * a state that is its counters alone: throws otherwise.
   */
  snapshot(): OutboxSnapshot {
    if (this.pending > 0) throw new Error(`outbox: ${this.pending} batches not acknowledged; checkpoint an idle outbox (drain first)`);
    return { acked: this.acked, rejected: this.rejected, lost: this.lost, retries: this.retries };
  }

  /** Continues the counters of snapshot(). */
  restore(s: OutboxSnapshot): void {
    Object.assign(this, { acked: s.acked, rejected: s.rejected, lost: s.lost, retries: s.retries });
  }

  /** Gives up on whatever is still queued (counted as lost) and stops retrying. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const i of this.queue.splice(0)) this.lost += i.transitions;
  }
}

export interface OutboxSnapshot {
  acked: number;
  rejected: number;
  lost: number;
  retries: number;
}
