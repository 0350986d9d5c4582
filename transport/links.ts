/**
 * Uplink, Downlink and ServerLink over a Bus: the wire codec, the run's subjects, acknowledged
 * delivery (Outbox) and the server's retry dedupe. Works the same on the in-process bus and NATS.
 */
import type { KeyObject } from "node:crypto";
import type { Bus, Subscription } from "../core/bus";
import type { TransitionBatch } from "../core/batch";
import { Backpressure, CodecError, RejectionCounter } from "../core/errors";
import type { BatchHandler, Downlink, GlobalModel, ServerLink, ServerLinkStats, Uplink, UplinkStats, WeightsHandler, WeightsUpload } from "../core/links";
import type { ParamLayout } from "../core/params";
import { DEFAULT_LIMITS, decodeGlobal, decodeTransitions, decodeWeights, encodeGlobal, encodeTransitions, encodeWeights, signedGlobalBytes, signedWeightsBytes, verifyBytes, type CodecLimits } from "./codec";
import { Outbox } from "./outbox";
import { TRANSITION_REPLY as REPLY, type Subjects } from "./subjects";

export interface UplinkOptions {
  /** ack: batches are requests the learner answers (bounded window, retries); publish: fire and forget. */
  delivery: "ack" | "publish";
  window: number;
  maxQueued: number;
  ackTimeoutMs: number;
  log?: (line: string) => void;
  /** The actor's Ed25519 private key: weights uploads are signed with it (the learner verifies). */
  signingKey?: KeyObject;
}

export class BusUplink implements Uplink {
  private seq = 0;
  private batchesSent = 0;
  private bytesSent = 0;
  private weightsSent = 0;
  private readonly outbox: Outbox | null;
  private readonly signingKey: KeyObject | undefined;
  constructor(private readonly bus: Bus, private readonly subjects: Subjects, private readonly actor: string, private readonly env: string, o: UplinkOptions) {
    this.signingKey = o.signingKey;
    this.outbox = o.delivery === "ack" ? new Outbox(bus, { window: o.window, maxQueued: o.maxQueued, timeoutMs: o.ackTimeoutMs, log: (l) => o.log?.(`${actor}: ${l}`) }) : null;
  }
  sendTransitions(batch: TransitionBatch): void {
    const bytes = encodeTransitions({ actor: this.actor, env: this.env, seq: this.seq++, ts: Date.now(), batch });
    if (this.outbox) this.outbox.send(this.subjects.transitions(this.actor), bytes, batch.n);
    else this.bus.publish(this.subjects.transitions(this.actor), bytes);
    this.batchesSent++;
    this.bytesSent += bytes.length;
  }
  sendWeights(w: WeightsUpload): void {
    const bytes = encodeWeights({ actor: this.actor, version: w.version, samples: w.samples, ts: Date.now(), layout: w.layout, params: w.params }, this.signingKey);
    this.bus.publish(this.subjects.weights(this.actor), bytes);
    this.weightsSent++;
    this.bytesSent += bytes.length;
  }
  async drain(timeoutMs: number): Promise<number> {
    await this.bus.flush();
    return this.outbox ? this.outbox.drain(timeoutMs) : 0;
  }
  stats(): UplinkStats {
    const o = this.outbox;
    return {
      batchesSent: this.batchesSent, bytesSent: this.bytesSent, weightsSent: this.weightsSent,
      delivery: o ? { acked: o.acked, rejected: o.rejected, lost: o.lost, retries: o.retries, pending: o.pending } : null,
    };
  }
  async close(): Promise<void> {
    this.outbox?.close();
  }
}

/**
 * Versions may not run ahead faster than this (per second since the last accepted model, plus a
 * slack of the same size): a forged model with version 2^53−1 would otherwise make every actor
 * ignore the genuine ones. The learner bumps the version once per training tick and per round.
 */
export const MAX_VERSION_RATE = 1000;

export interface DownlinkOptions {
  /**
   * The learner's Ed25519 public key. When set, a global model must carry a valid signature by it
   * (over the params bytes, version, round, ts and layout): unsigned or badly signed ones are
   * refused and counted "bad_signature", before any other check.
   */
  verifyKey?: KeyObject;
}

export class BusDownlink implements Downlink {
  readonly rejected = new RejectionCounter();
  private sub: Subscription | null = null;
  private watch: { stop(): void } | null = null;
  private last: { version: number; at: number } | null = null;
  constructor(private readonly bus: Bus, private readonly subjects: Subjects, private readonly layout: ParamLayout, private readonly log: (line: string) => void = () => {}, private readonly now: () => number = Date.now, private readonly opts: DownlinkOptions = {}) {}
  async subscribe(cb: (g: GlobalModel) => void): Promise<void> {
    const on = (data: Uint8Array) => {
      let g;
      try {
        g = decodeGlobal(data, this.layout);
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        this.rejected.count(e.reason, "global");
        this.log(`rejected global model: ${e.message}`);
        return;
      }
      const key = this.opts.verifyKey;
      if (key && !verifyBytes(signedGlobalBytes(g), g.sig, key)) {
        this.rejected.count("bad_signature", "global");
        this.log(`rejected global model: ${g.sig ? "signature does not verify with the learner's key" : "unsigned (a learner key is configured)"} (version ${g.version})`);
        return;
      }
      const t = this.now();
      if (this.last && g.version > this.last.version + MAX_VERSION_RATE * (1 + Math.max(0, t - this.last.at) / 1000)) {
        this.rejected.count("version_jump", "global");
        this.log(`rejected global model: version ${g.version} jumps too far ahead of ${this.last.version}`);
        return;
      }
      if (!this.last || g.version > this.last.version) this.last = { version: g.version, at: t };
      cb({ version: g.version, round: g.round, layout: g.layout, params: g.params });
    };
    this.sub = this.bus.subscribe(this.subjects.global, (m) => on(m.data), { maxPending: 4 });
    const lv = await this.bus.lastValues(this.subjects.bucket);
    this.watch = await lv.watch("global", on);
  }
  async close(): Promise<void> {
    this.watch?.stop();
    await this.sub?.unsubscribe();
  }
}

export interface ServerLinkOptions {
  obsDim: number;
  actionCount: number;
  layout: ParamLayout;
  /** Largest message (wire bytes, and inflated body) accepted. */
  maxMessageBytes: number;
  /** Shared with the nodes behind the link: rejections by reason and sender. */
  rejected: RejectionCounter;
  /**
   * Per-sender rate limits (token buckets holding `burstSeconds` of rate; 0 = unlimited). A batch
   * over the limit is answered RETRY (its sender backs off and resends), weights are dropped; both
   * counted as "rate_limited" before any decoding work.
   */
  rate?: { messagesPerSec: number; bytesPerSec: number; burstSeconds?: number };
  log?: (line: string) => void;
  /**
   * Registered actor identities (auth.identities): id → its Ed25519 public signing key (null: no
   * key registered). When set, only these ids are clients: batches and weights from any other id
   * are refused and counted "unregistered" before any decoding; weights from an id with a key must
   * carry its valid signature ("bad_signature" otherwise). Unset: any id on the bus is a client.
   */
  identities?: ReadonlyMap<string, KeyObject | null>;
  /** The learner's Ed25519 private key: every published global model is signed with it. */
  signingKey?: KeyObject;
  /**
   * Which inbound streams this link takes (default both). An ingest worker takes transitions only,
   * in the queue group \`ingestQueue\`; a learner whose workers ingest takes weights only.
   */
  transitions?: boolean;
  weights?: boolean;
  /** NATS queue group for transitions: each batch goes to one member (ingest workers scale out). */
  ingestQueue?: string;
}

/** Token buckets per sender (at most MAX_SENDERS, least recently used dropped). */
export class RateLimiter {
  private readonly b = new Map<string, { msgs: number; bytes: number; at: number }>();
  constructor(private readonly r: { messagesPerSec: number; bytesPerSec: number; burstSeconds?: number }, private readonly now: () => number = Date.now) {}
  /** Takes one message of `bytes` from the sender's buckets; false when either is short. */
  take(sender: string, bytes: number): boolean {
    const { messagesPerSec: mps, bytesPerSec: bps } = this.r;
    const burst = this.r.burstSeconds ?? 2;
    const t = this.now();
    let k = this.b.get(sender);
    if (k) this.b.delete(sender);
    else {
      k = { msgs: mps * burst, bytes: bps * burst, at: t };
      if (this.b.size >= MAX_SENDERS) this.b.delete(this.b.keys().next().value!);
    }
    this.b.set(sender, k);
    const dt = Math.max(0, (t - k.at) / 1000);
    k.at = t;
    if (mps > 0) k.msgs = Math.min(mps * burst, k.msgs + dt * mps);
    if (bps > 0) k.bytes = Math.min(bps * burst, k.bytes + dt * bps);
    if ((mps > 0 && k.msgs < 1) || (bps > 0 && k.bytes < bytes)) return false;
    if (mps > 0) k.msgs -= 1;
    if (bps > 0) k.bytes -= bytes;
    return true;
  }
}

/** Replay inserts that may overlap; decoding stays in arrival order. */
const MAX_INFLIGHT = 8;
/** Batches remembered per actor to recognise a retried batch whose first ack was lost. */
const SEEN_PER_ACTOR = 256;
const ACK = new Uint8Array([REPLY.ACK]);
const REJECTED = new Uint8Array([REPLY.REJECTED]);
const RETRY = new Uint8Array([REPLY.RETRY]);
/** Senders whose retry-dedupe state is kept (least recently used dropped beyond). */
const MAX_SENDERS = 1024;
const lastTail = (subject: string) => subject.slice(subject.lastIndexOf(".") + 1);

export class BusServerLink implements ServerLink {
  private readonly limits: CodecLimits;
  private readonly subs: Subscription[] = [];
  private readonly inflight = new Set<Promise<void>>();
  /** Per actor, the last SEEN_PER_ACTOR stored batches as "seq:ts" (ts tells incarnations apart). */
  private readonly seen = new Map<string, { keys: Set<string>; order: string[] }>();
  private duplicates = 0;
  private receivedBytes = 0;
  private decodeMs = 0;
  private published = 0;
  private publishedBytes = 0;
  private readonly limiter: RateLimiter | null;
  constructor(private readonly bus: Bus, private readonly subjects: Subjects, private readonly o: ServerLinkOptions) {
    this.limits = { ...DEFAULT_LIMITS, maxBytes: o.maxMessageBytes };
    this.limiter = o.rate && (o.rate.messagesPerSec > 0 || o.rate.bytesPerSec > 0) ? new RateLimiter(o.rate) : null;
  }

  async start(onBatch: BatchHandler, onWeights: WeightsHandler): Promise<void> {
    const { bus, subjects } = this;
    // A batch sent as a request is acknowledged once stored (or rejected), so a producer keeps a
    // bounded window in flight: backpressure instead of drops.
    if (this.o.transitions !== false) this.subs.push(bus.subscribe(subjects.allTransitions, async (m) => {
      while (this.inflight.size >= MAX_INFLIGHT) await Promise.race(this.inflight);
      const actor = lastTail(m.subject);
      if (!this.registered(actor)) {
        m.respond?.(REJECTED);
        return;
      }
      if (this.limiter && !this.limiter.take(actor, m.data.length)) {
        this.o.rejected.count("rate_limited", actor);
        m.respond?.(RETRY);
        return;
      }
      const p: Promise<void> = this.onTransitions(actor, m.data, onBatch).then(
        (ok) => m.respond?.(ok ? ACK : REJECTED),
        (e) => {
          // Back-pressure (the learner owes updates): not a failure; the sender backs off and resends.
          if (e instanceof Backpressure) return void m.respond?.(RETRY);
          // The store is unavailable: the batch was valid, so the sender keeps it and retries.
          this.o.log?.(`replay insert failed: ${(e as Error)?.message ?? e}`);
          this.o.rejected.count("replay_error", actor);
          m.respond?.(RETRY);
        },
      ).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }, { maxPending: 1000, queue: this.o.ingestQueue }));
    if (this.o.weights !== false) this.subs.push(bus.subscribe(subjects.allWeights, (m) => {
      const actor = lastTail(m.subject);
      if (!this.registered(actor)) return;
      if (this.limiter && !this.limiter.take(`w:${actor}`, m.data.length)) return this.o.rejected.count("rate_limited", actor);
      this.onWeights(actor, m.data, onWeights);
    }, { maxPending: 1000 }));
  }

  /** True when `actor` may be a client (always, without registered identities); counts "unregistered" otherwise. */
  private registered(actor: string): boolean {
    if (!this.o.identities || this.o.identities.has(actor)) return true;
    this.o.rejected.count("unregistered", actor);
    return false;
  }

  /** Decode, validate, dedupe, hand over. False when rejected. */
  async onTransitions(actor: string, data: Uint8Array, onBatch: BatchHandler): Promise<boolean> {
    const t0 = performance.now();
    this.receivedBytes += data.length;
    let msg;
    try {
      msg = decodeTransitions(data, { obsDim: this.o.obsDim, actionCount: this.o.actionCount }, this.limits);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.o.rejected.count(e.reason, actor);
      return false;
    }
    this.decodeMs += performance.now() - t0;
    if (msg.actor !== actor) {
      this.o.rejected.count("bad_id", actor);
      return false;
    }
    const key = `${msg.seq}:${msg.ts}`;
    let seen = this.seen.get(actor);
    if (seen) {
      // least recently used last: refresh
      this.seen.delete(actor);
      this.seen.set(actor, seen);
    } else {
      this.seen.set(actor, (seen = { keys: new Set(), order: [] }));
      if (this.seen.size > MAX_SENDERS) this.seen.delete(this.seen.keys().next().value!);
    }
    if (seen.keys.has(key)) {
      this.duplicates++;
      return true;
    }
    // The sender's key for this batch: the replay stores it once even when another worker got the first try.
    const ok = await onBatch(actor, msg.batch, `${actor}:${key}`);
    if (ok) {
      seen.keys.add(key);
      seen.order.push(key);
      if (seen.order.length > SEEN_PER_ACTOR) seen.keys.delete(seen.order.shift()!);
    }
    return ok;
  }

  onWeights(actor: string, data: Uint8Array, onWeights: WeightsHandler): void {
    let w;
    try {
      w = decodeWeights(data, this.o.layout, this.limits);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.o.rejected.count(e.reason, actor);
      return;
    }
    if (w.actor !== actor) {
      this.o.rejected.count("bad_id", actor);
      return;
    }
    const key = this.o.identities?.get(actor);
    if (key && !verifyBytes(signedWeightsBytes(w), w.sig, key)) {
      this.o.rejected.count("bad_signature", actor);
      return;
    }
    onWeights(actor, { version: w.version, samples: w.samples, layout: w.layout, params: w.params });
  }

  async publishGlobal(g: GlobalModel): Promise<void> {
    const bytes = encodeGlobal({ version: g.version, round: g.round, ts: Date.now(), layout: g.layout, params: g.params }, this.o.signingKey);
    this.bus.publish(this.subjects.global, bytes);
    await (await this.bus.lastValues(this.subjects.bucket)).put("global", bytes);
    this.published++;
    this.publishedBytes += bytes.length;
  }

  flush(): Promise<void> {
    return this.bus.flush();
  }

  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight);
  }

  stats(): ServerLinkStats {
    return { duplicates: this.duplicates, receivedBytes: this.receivedBytes, decodeMs: this.decodeMs, dropped: this.subs.reduce((s, x) => s + x.dropped, 0), published: this.published, publishedBytes: this.publishedBytes };
  }

  async close(): Promise<void> {
    for (const s of this.subs.splice(0)) await s.unsubscribe();
    await this.drain();
  }
}
