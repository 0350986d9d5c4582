import { connect, type NatsConnection, type Subscription as NatsSub } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { natsConnectAuth, redactSecrets, redactUrl, splitServerUrls, type NatsAuth } from "./nats-auth";
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
  /**
   * Credentials and TLS (see transport/nats-auth.ts). `user:pass@` or `token@` in the URL are used
   * too (these fields win); neither is ever printed.
   */
  auth?: NatsAuth;
}

/** The NATS bus: core pub/sub and request/reply, JetStream KV for last values. Reconnects forever. */
export class NatsBus implements Bus {
  readonly kind = "nats" as const;
  private readonly subs = new Set<{ sub: NatsSub; dispatcher: SerialDispatcher }>();
  private readonly kvs = new Map<string, Promise<NatsLastValues>>();
  private constructor(readonly nc: NatsConnection, private readonly log: (line: string) => void) {}

  static async connect(opts: NatsBusOptions): Promise<NatsBus> {
    const log = opts.log ?? (() => {});
    const fromUrl = splitServerUrls(opts.url);
    const auth: NatsAuth = { ...opts.auth };
    if (auth.user === undefined && auth.password === undefined && fromUrl.user !== undefined) {
      auth.user = fromUrl.user;
      auth.password = fromUrl.password;
    }
    if (auth.token === undefined && fromUrl.token !== undefined) auth.token = fromUrl.token;
    const fail = (e: unknown): never => {
      throw new Error(`cannot connect to NATS at ${redactUrl(opts.url)}: ${redactSecrets(String((e as Error)?.message ?? e), auth)}`);
    };
    let connectAuth: ReturnType<typeof natsConnectAuth> = {};
    try {
      connectAuth = natsConnectAuth(auth);
    } catch (e) {
      fail(e);
    }
    const nc = await connect({
      servers: fromUrl.servers,
      name: opts.name ?? "fedrl",
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 500,
      timeout: opts.timeoutMs ?? 5000,
      ...connectAuth,
    }).catch(fail);
    const bus = new NatsBus(nc, log);
    void (async () => {
      for await (const s of nc.status()) {
        // A permission violation names the refused subject (never a secret): say which.
        if (s.type === "error") log(`nats error: ${redactSecrets(s.error?.message ?? "unknown", auth)}`);
        else if (s.type === "disconnect" || s.type === "reconnect" || s.type === "slowConsumer") log(`nats ${s.type}`);
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
        const kvm = new Kvm(this.nc);
        try {
          return new NatsLastValues(await kvm.create(bucket, { history: 1 }), false, this.log, () => this.nc.isClosed());
        } catch (e) {
          // An identity that may only read the bucket (an actor under `fedrl auth init`) cannot
          // create it: bind to it by name; its watch waits for the writer to create it.
          if (!(e instanceof Error && /permissions violation/i.test(e.message))) throw e;
          return new NatsLastValues(await kvm.open(bucket), true, this.log, () => this.nc.isClosed());
        }
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

const streamMissing = (e: unknown) => e instanceof Error && /stream not found/i.test(e.message);

class NatsLastValues implements LastValueStore {
  /** readOnly: bound without creating the bucket, which may not exist yet. */
  constructor(private readonly kv: KV, private readonly readOnly: boolean, private readonly log: (line: string) => void, private readonly closed: () => boolean) {}
  async put(key: string, data: Uint8Array): Promise<void> {
    await this.kv.put(key, data);
  }
  async get(key: string): Promise<Uint8Array | null> {
    let e;
    try {
      e = await this.kv.get(key);
    } catch (err) {
      if (this.readOnly && streamMissing(err)) return null;
      throw err;
    }
    return e && e.operation === "PUT" ? e.value : null;
  }
  async watch(key: string, cb: (data: Uint8Array) => void): Promise<{ stop(): void }> {
    const follow = async () => {
      const it = await this.kv.watch({ key });
      void (async () => {
        for await (const e of it) if (e.operation === "PUT") cb(e.value);
      })().catch(() => {});
      return it;
    };
    if (!this.readOnly) {
      const it = await follow();
      return { stop: () => it.stop() };
    }
    // Read-only: until the writer has created the bucket, try again every second.
    let stopped = false;
    let it: { stop(): void } | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const attempt = async (first: boolean): Promise<void> => {
      try {
        const w = await follow();
        if (stopped) w.stop();
        else it = w;
      } catch (e) {
        if (stopped || this.closed()) return;
        if (!streamMissing(e)) {
          if (first) throw e;
          this.log(`kv watch: ${(e as Error)?.message ?? e}; retrying`);
        } else if (first) this.log("kv watch: the bucket does not exist yet (its writer has not started); waiting for it");
        timer = setTimeout(() => void attempt(false), 1000);
        timer.unref?.();
      }
    };
    await attempt(true);
    return {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        it?.stop();
      },
    };
  }
}
