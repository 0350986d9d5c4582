import { DEFAULT_MAX_PENDING, SerialDispatcher, type Bus, type BusMessage, type Handler, type LastValueStore, type RequestOptions, type SubscribeOptions, type Subscription } from "../core/bus";
import { subjectMatches } from "./subjects";

interface Sub {
  pattern: string;
  queue?: string;
  dispatcher: SerialDispatcher;
  closed: boolean;
}

/** In-process bus with NATS semantics (wildcards, queue groups, request/reply), for one process. */
export class InProcessBus implements Bus {
  readonly kind = "inproc" as const;
  private subs: Sub[] = [];
  private stores = new Map<string, InProcessLastValues>();
  private closed = false;
  private rr = 0;

  publish(subject: string, data: Uint8Array): void {
    this.deliver({ subject, data });
  }

  private deliver(msg: BusMessage): number {
    if (this.closed) throw new Error("bus is closed");
    let n = 0;
    const groups = new Map<string, Sub[]>();
    for (const s of this.subs) {
      if (s.closed || !subjectMatches(s.pattern, msg.subject)) continue;
      if (s.queue) {
        const g = groups.get(s.queue) ?? [];
        g.push(s);
        groups.set(s.queue, g);
      } else {
        s.dispatcher.push(msg);
        n++;
      }
    }
    for (const g of groups.values()) {
      g[this.rr++ % g.length]!.dispatcher.push(msg);
      n++;
    }
    return n;
  }

  subscribe(subject: string, handler: Handler, opts: SubscribeOptions = {}): Subscription {
    if (this.closed) throw new Error("bus is closed");
    const sub: Sub = {
      pattern: subject,
      queue: opts.queue,
      dispatcher: new SerialDispatcher(handler, opts.maxPending ?? DEFAULT_MAX_PENDING),
      closed: false,
    };
    this.subs.push(sub);
    return {
      subject,
      get delivered() { return sub.dispatcher.delivered; },
      get dropped() { return sub.dispatcher.dropped; },
      get errors() { return sub.dispatcher.errors; },
      unsubscribe: async () => {
        sub.closed = true;
        this.subs = this.subs.filter((s) => s !== sub);
        await sub.dispatcher.idle();
      },
    };
  }

  request(subject: string, data: Uint8Array, opts: RequestOptions = {}): Promise<Uint8Array> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (!done) { done = true; reject(new Error(`request to ${subject} timed out after ${timeoutMs} ms`)); }
      }, timeoutMs);
      const respond = (reply: Uint8Array) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(reply);
      };
      const n = this.deliver({ subject, data, respond });
      if (n === 0) {
        done = true;
        clearTimeout(timer);
        reject(new Error(`no responders for ${subject}`));
      }
    });
  }

  async lastValues(bucket: string): Promise<LastValueStore> {
    let s = this.stores.get(bucket);
    if (!s) this.stores.set(bucket, (s = new InProcessLastValues()));
    return s;
  }

  /** Messages queued for subscribers, not yet handed to their handlers (0 after flush() unless handlers publish again). */
  get pending(): number {
    return this.subs.reduce((n, s) => n + s.dispatcher.pending, 0);
  }

  async flush(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.dispatcher.idle()));
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.subs = [];
  }
}

class InProcessLastValues implements LastValueStore {
  private values = new Map<string, Uint8Array>();
  private watchers = new Map<string, Set<(d: Uint8Array) => void>>();
  async put(key: string, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    this.values.set(key, copy);
    for (const cb of this.watchers.get(key) ?? []) setImmediate(() => cb(copy));
  }
  async get(key: string): Promise<Uint8Array | null> {
    return this.values.get(key) ?? null;
  }
  async watch(key: string, cb: (data: Uint8Array) => void): Promise<{ stop(): void }> {
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(cb);
    const cur = this.values.get(key);
    if (cur) setImmediate(() => cb(cur));
    return { stop: () => void set!.delete(cb) };
  }
}
