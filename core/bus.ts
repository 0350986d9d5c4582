/**
 * The message bus: publish bytes, subscribe with an async handler, request/reply, and a
 * last-value store for the latest global model. Implementations: in-process (embedded default,
 * unit tests) and NATS (transport/bus-nats.ts). Both pass test/runtime/bus.contract.ts.
 */

export interface BusMessage {
  subject: string;
  data: Uint8Array;
  /** Present when the sender used request(); sends the reply. */
  respond?: (data: Uint8Array) => void;
}

export type Handler = (msg: BusMessage) => void | Promise<void>;

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
  /**
   * Messages waiting for the handler beyond which new ones are dropped (and counted) instead of
   * queued without bound. Default 10 000.
   */
  maxPending?: number;
}

export interface Subscription {
  readonly subject: string;
  /** Messages handed to the handler. */
  readonly delivered: number;
  /** Messages dropped because the handler fell behind by more than maxPending. */
  readonly dropped: number;
  /** Handler errors (caught and counted; a throwing handler never kills the subscription). */
  readonly errors: number;
  unsubscribe(): Promise<void>;
}

export interface LastValueStore {
  put(key: string, data: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  /** Calls `cb` with the current value (if any) and then every new one. */
  watch(key: string, cb: (data: Uint8Array) => void): Promise<{ stop(): void }>;
}

export interface RequestOptions {
  timeoutMs?: number;
}

export interface Bus {
  readonly kind: "inproc" | "nats";
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, handler: Handler, opts?: SubscribeOptions): Subscription;
  request(subject: string, data: Uint8Array, opts?: RequestOptions): Promise<Uint8Array>;
  lastValues(bucket: string): Promise<LastValueStore>;
  /** Resolves when everything published so far has reached the server (or the local queues). */
  flush(): Promise<void>;
  /** Drains subscriptions and closes. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_PENDING = 10_000;

/** Runs one subscription's handler strictly in order, bounding the queue. Shared by both buses. */
export class SerialDispatcher {
  delivered = 0;
  dropped = 0;
  errors = 0;
  private queue: BusMessage[] = [];
  private head = 0;
  private running = false;
  private idleWaiters: (() => void)[] = [];
  constructor(private readonly handler: Handler, private readonly maxPending: number, private readonly onError?: (e: unknown) => void) {}
  get pending(): number {
    return this.queue.length - this.head;
  }
  push(msg: BusMessage): void {
    if (this.pending >= this.maxPending) {
      this.dropped++;
      return;
    }
    this.queue.push(msg);
    if (!this.running) {
      this.running = true;
      setImmediate(() => void this.run());
    }
  }
  private async run(): Promise<void> {
    while (this.head < this.queue.length) {
      const msg = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as BusMessage;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      try {
        const r = this.handler(msg);
        if (r && typeof (r as Promise<void>).then === "function") await r;
      } catch (e) {
        this.errors++;
        this.onError?.(e);
      }
      this.delivered++;
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }
  /** Resolves once the queue is empty and no handler runs. */
  idle(): Promise<void> {
    if (!this.running && this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }
}
