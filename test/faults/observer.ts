/**
 * An independent witness of acknowledged delivery: it listens to every transition batch an actor
 * sends as a request (fedrl.<run>.transitions.*) and to every reply (_INBOX.>), pairs them by the
 * reply subject, and so knows exactly which rows the learner acknowledged (ACK = "in the replay"),
 * whoever sent them and whether that process survived. Rows are kept in the replay's own packed
 * form (see transport/replay-redis.ts) so the test can look each acknowledged row up in Redis.
 * It also gathers the components' heartbeats.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { decodeTransitions } from "../../transport/codec";
import { TRANSITION_REPLY, subjectsFor } from "../../transport/subjects";
import type { TransitionBatch } from "../../core/batch";

/** One row as the Redis replay stores it: obs f32[d] | nextObs f32[d] | action i32 | reward f32 | flags u32. */
export function packRow(b: TransitionBatch, i: number): string {
  const d = b.obsDim;
  const ab = new ArrayBuffer(4 * (2 * d + 3));
  const f = new Float32Array(ab);
  const n = new Int32Array(ab);
  f.set(b.obs.subarray(i * d, i * d + d), 0);
  f.set(b.nextObs.subarray(i * d, i * d + d), d);
  n[2 * d] = b.actions[i]!;
  f[2 * d + 1] = b.rewards[i]!;
  n[2 * d + 2] = (b.terminated[i] ? 1 : 0) | (b.truncated[i] ? 2 : 0);
  return Buffer.from(ab).toString("base64");
}

interface Pending {
  actor: string;
  rows: string[];
}

export interface AckEvent {
  t: number;
  actor: string;
  n: number;
}

export class DeliveryObserver {
  /** Rows acknowledged, per actor (in ack order; a retried batch acked twice is counted once per ACK). */
  readonly ackedRows = new Map<string, string[]>();
  /** Per actor, when each of ackedRows' rows was acknowledged (Date.now()). */
  readonly ackedAt = new Map<string, number[]>();
  readonly acks: AckEvent[] = [];
  readonly replies = { ack: 0, rejected: 0, retry: 0, unmatched: 0 };
  readonly heartbeats = new Map<string, Record<string, any>>();
  /** Heartbeats per component, in arrival order (the killed actor's last one before its death matters). */
  readonly history = new Map<string, Record<string, any>[]>();
  private readonly pending = new Map<string, Pending>();
  private readonly early = new Map<string, number>();
  private constructor(readonly nc: NatsConnection) {}

  static async connect(url: string, run: string, obsDim: number, actionCount: number): Promise<DeliveryObserver> {
    const nc = await connect({ servers: url, name: "fault-observer", reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    const o = new DeliveryObserver(nc);
    const s = subjectsFor(run);
    nc.subscribe(s.allTransitions, {
      callback: (err, m) => {
        if (err || !m.reply) return;
        let rows: string[];
        try {
          const msg = decodeTransitions(m.data, { obsDim, actionCount });
          rows = Array.from({ length: msg.batch.n }, (_, i) => packRow(msg.batch, i));
        } catch {
          rows = [];
        }
        const actor = m.subject.slice(m.subject.lastIndexOf(".") + 1);
        const early = o.early.get(m.reply);
        if (early !== undefined) {
          o.early.delete(m.reply);
          o.settle({ actor, rows }, early);
        } else o.pending.set(m.reply, { actor, rows });
      },
    });
    nc.subscribe("_INBOX.>", {
      callback: (err, m) => {
        if (err || m.data.length !== 1) return;
        const p = o.pending.get(m.subject);
        if (!p) {
          // The reply overtook its request (should not happen on one server): pair it later.
          o.early.set(m.subject, m.data[0]!);
          return;
        }
        o.pending.delete(m.subject);
        o.settle(p, m.data[0]!);
      },
    });
    nc.subscribe(s.allMetrics, {
      callback: (err, m) => {
        if (err) return;
        try {
          const who = m.subject.slice(m.subject.lastIndexOf(".") + 1);
          const hb = JSON.parse(new TextDecoder().decode(m.data)) as Record<string, any>;
          o.heartbeats.set(who, hb);
          let h = o.history.get(who);
          if (!h) o.history.set(who, (h = []));
          h.push({ ...hb, at: Date.now() });
        } catch {
          /* not ours */
        }
      },
    });
    await nc.flush();
    return o;
  }

  private settle(p: Pending, code: number): void {
    if (code === TRANSITION_REPLY.ACK) {
      this.replies.ack++;
      let list = this.ackedRows.get(p.actor);
      if (!list) this.ackedRows.set(p.actor, (list = []));
      list.push(...p.rows);
      const t = Date.now();
      let at = this.ackedAt.get(p.actor);
      if (!at) this.ackedAt.set(p.actor, (at = []));
      for (let i = 0; i < p.rows.length; i++) at.push(t);
      this.acks.push({ t, actor: p.actor, n: p.rows.length });
    } else if (code === TRANSITION_REPLY.REJECTED) this.replies.rejected++;
    else if (code === TRANSITION_REPLY.RETRY) this.replies.retry++;
    else this.replies.unmatched++;
  }

  acked(actor?: string): number {
    if (actor) return this.ackedRows.get(actor)?.length ?? 0;
    let s = 0;
    for (const l of this.ackedRows.values()) s += l.length;
    return s;
  }

  /** The first ACK at or after `t` (of `actor`, if given), or null. */
  firstAckAfter(t: number, actor?: string): AckEvent | null {
    return this.acks.find((a) => a.t >= t && (!actor || a.actor === actor)) ?? null;
  }

  /** Acked rows per second over [t0, t1]. */
  ackRate(t0: number, t1: number): number {
    const n = this.acks.filter((a) => a.t >= t0 && a.t <= t1).reduce((s, a) => s + a.n, 0);
    return n / Math.max(1e-3, (t1 - t0) / 1000);
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
