import { expect } from "chai";
import { RejectionCounter } from "../../core/errors";
import { InProcessBus } from "../../transport/bus-inproc";
import { BusServerLink, RateLimiter } from "../../transport/links";
import { encodeTransitions } from "../../transport/codec";
import { subjectsFor, TRANSITION_REPLY } from "../../transport/subjects";
import { makeLayout } from "../../core/params";
import { allocBatch } from "../../core/batch";

describe("per-sender rate limits at the learner", () => {
  it("token buckets: a burst of 2 s of rate, then the refill rate; senders are independent", () => {
    let t = 0;
    const r = new RateLimiter({ messagesPerSec: 5, bytesPerSec: 0 }, () => t);
    // 2 s burst = 10 messages
    expect(Array.from({ length: 12 }, () => r.take("a", 100))).to.deep.equal([...Array(10).fill(true), false, false]);
    expect(r.take("b", 100)).to.equal(true);
    t += 1000; // +5 tokens
    expect(Array.from({ length: 6 }, () => r.take("a", 100)).filter(Boolean).length).to.equal(5);
    const bytes = new RateLimiter({ messagesPerSec: 0, bytesPerSec: 1000 }, () => t);
    expect([bytes.take("a", 1500), bytes.take("a", 600), bytes.take("a", 1)]).to.deep.equal([true, false, true]); // 2000-byte burst
  });

  it("answers RETRY over the limit before decoding and counts rate_limited by sender", async () => {
    const bus = new InProcessBus();
    const s = subjectsFor("rl-test");
    const rejected = new RejectionCounter();
    const link = new BusServerLink(bus, s, { obsDim: 4, actionCount: 2, layout: makeLayout([{ name: "w", shape: [2] }]), maxMessageBytes: 1 << 20, rejected, rate: { messagesPerSec: 2, bytesPerSec: 0, burstSeconds: 1 } });
    let stored = 0;
    await link.start(async () => (stored++, true), () => {});
    const replies: number[] = [];
    for (let i = 0; i < 4; i++) {
      const msg = encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: i, ts: 1, batch: allocBatch(3, 4) });
      const r = await bus.request(s.transitions("actor-0"), msg, { timeoutMs: 2000 });
      replies.push(r[0]!);
    }
    expect(replies).to.deep.equal([TRANSITION_REPLY.ACK, TRANSITION_REPLY.ACK, TRANSITION_REPLY.RETRY, TRANSITION_REPLY.RETRY]);
    expect(stored).to.equal(2);
    expect(rejected.snapshot()).to.deep.include({ byReason: { rate_limited: 2 }, bySource: { "actor-0": 2 } });
    await link.close();
    await bus.close();
  });
});
