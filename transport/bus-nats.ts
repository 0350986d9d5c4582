import { connect, type NatsConnection, type Subscription as NatsSub } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { DEFAULT_MAX_PENDING, SerialDispatcher, type Bus, type Handler, type LastValueStore, type RequestOptions, type SubscribeOptions, type Subscription } from "../core/bus";

export interface NatsBusOptions {
  /** e.g. "nats://127.0.0.1:4222"; comma-separated for a cluster. */
  url: string;
  /** Connection name shown by the server (monitoring). */
  name?: string;
  /** Wait between reconnect attempts (ms); jitter is added by the client. */
  reconnectTimeWaitMs?: number;
  /** Give up the first connection after this long. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** The NATS bus: core pub/sub and request/reply, JetStream KV for last values. Reconnects forever. */
export class NatsBus implements Bus {
  readonly kind = "nats" as const;
  private readonly subs = new Set<{ sub: NatsSub; dispatcher: SerialDispatcher }>();
  private readonly kvs = new Map<string, Promise<NatsLastValues>>();
  private constructor(readonly nc: NatsConnection, private readonly log: (line: string) => void) {}

  static async connect(opts: NatsBusOptions): Promise<NatsBus> {
    const log = opts.log ?? (() => {});
    const nc = await connect({
      servers: opts.url.split(",").map((s) => s.trim()),
      name: opts.name ?? "fedrl",
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 500,
      timeout: opts.timeoutMs ?? 5000,
    }).catch((e: Error) => {
      throw new Error(`cannot connect to NATS at ${opts.url}: ${e.message}`);
    });
    const bus = new NatsBus(nc, log);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error" || s.type === "slowConsumer") log(`nats ${s.type}`);
      }
    })().catch(() => {});
    return bus;
  }

  publish(subject: string, data: Uint8Array): void {
    this.nc.publish(subject, data);
  }

  subscribe(subject: string, handler: Handler, opts: SubscribeOptions = {}): Subscription {
    const dispatcher = new SerialDispatcher(handler, opts.maxPending ?? DEFAULT_MAX_PENDING, (e) => this.log(`handler error on ${subject}: ${(e as Error)?.message ?? e}`));
    const sub = this.nc.subscribe(subject, {
      queue: opts.queue,
      callback: (err, m) => {
        if (err) {
          this.log(`subscription ${subject}: ${err.message}`);
          return;
        }
        dispatcher.push({
          subject: m.subject,
          data: m.data,
          respond: m.reply ? (d: Uint8Array) => void m.respond(d) : undefined,
        });
      },
    });
    const entry = { sub, dispatcher };
    this.subs.add(entry);
    return {
      subject,
      get delivered() { return dispatcher.delivered; },
      get dropped() { return dispatcher.dropped; },
      get errors() { return dispatcher.errors; },
      unsubscribe: async () => {
        this.subs.delete(entry);
        if (!sub.isClosed()) await sub.drain().catch(() => sub.unsubscribe());
        await dispatcher.idle();
      },
    };
  }

  async request(subject: string, data: Uint8Array, opts: RequestOptions = {}): Promise<Uint8Array> {
    const m = await this.nc.request(subject, data, { timeout: opts.timeoutMs ?? 5000 });
    return m.data;
  }

  lastValues(bucket: string): Promise<LastValueStore> {
    let p = this.kvs.get(bucket);
    if (!p) {
      p = (async () => {
        const kv = await new Kvm(this.nc).create(bucket, { history: 1 });
        return new NatsLastValues(kv);
      })();
      p.catch(() => this.kvs.delete(bucket));
      this.kvs.set(bucket, p);
    }
    return p;
  }

  async flush(): Promise<void> {
    await this.nc.flush();
    await Promise.all([...this.subs].map((s) => s.dispatcher.idle()));
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    const dispatchers = [...this.subs].map((s) => s.dispatcher);
    await this.nc.drain().catch(() => this.nc.close());
    await Promise.all(dispatchers.map((d) => d.idle()));
  }
}

class NatsLastValues implements LastValueStore {
  constructor(private readonly kv: KV) {}
  async put(key: string, data: Uint8Array): Promise<void> {
    await this.kv.put(key, data);
  }
  async get(key: string): Promise<Uint8Array | null> {
    const e = await this.kv.get(key);
    return e && e.operation === "PUT" ? e.value : null;
  }
  async watch(key: string, cb: (data: Uint8Array) => void): Promise<{ stop(): void }> {
    const it = await this.kv.watch({ key });
    void (async () => {
      for await (const e of it) if (e.operation === "PUT") cb(e.value);
    })().catch(() => {});
    return { stop: () => it.stop() };
  }
}
