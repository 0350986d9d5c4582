import { expect } from "chai";
import { Outbox } from "../../transport/outbox";
import { InProcessBus } from "../../transport/bus-inproc";
import { NatsBus } from "../../transport/bus-nats";
import { TRANSITION_REPLY } from "../../transport/subjects";

const SUBJECT = "fedrl.outbox-test.transitions.a-0";
const bytes = (i: number) => new Uint8Array([i & 255, (i >> 8) & 255]);
const idOf = (b: Uint8Array) => b[0]! | (b[1]! << 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A receiver that records batch ids and answers with `reply(id, attempt)`. */
function receiver(bus: InProcessBus | NatsBus, reply: (id: number, attempt: number) => number = () => TRANSITION_REPLY.ACK) {
  const got: number[] = [];
  const attempts = new Map<number, number>();
  const sub = bus.subscribe(SUBJECT, (m) => {
    const id = idOf(m.data);
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    const r = reply(id, n);
    if (r === TRANSITION_REPLY.ACK) got.push(id);
    m.respond?.(new Uint8Array([r]));
  });
  return { got, attempts, sub };
}

describe("Outbox (acknowledged transition delivery)", function () {
  this.timeout(20_000);

  it("delivers every batch once when the receiver acknowledges, with at most `window` requests in flight", async () => {
    const bus = new InProcessBus();
    let inFlight = 0, maxInFlight = 0;
    const request = bus.request.bind(bus);
    bus.request = async (subject, data, opts) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await request(subject, data, opts);
      } finally {
        inFlight--;
      }
    };
    const got: number[] = [];
    bus.subscribe(SUBJECT, async (m) => {
      await sleep(1);
      got.push(idOf(m.data));
      m.respond?.(new Uint8Array([TRANSITION_REPLY.ACK]));
    }, { maxPending: 1000 });
    const ob = new Outbox(bus, { window: 3, maxQueued: 1000, timeoutMs: 2000 });
    for (let i = 0; i < 50; i++) ob.send(SUBJECT, bytes(i), 10);
    expect(ob.pending).to.equal(50);
    expect(await ob.drain(5000)).to.equal(0);
    expect(got).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    expect(ob.acked).to.equal(500);
    expect(ob.lost + ob.rejected + ob.retries).to.equal(0);
    expect(maxInFlight).to.equal(3);
    await bus.close();
  });

  it("keeps batches while nobody answers and delivers them all once the learner is back (no responders, then recovery)", async () => {
    const bus = new InProcessBus();
    const ob = new Outbox(bus, { window: 4, maxQueued: 100, timeoutMs: 500, backoffMs: 20, maxBackoffMs: 50 });
    for (let i = 0; i < 20; i++) ob.send(SUBJECT, bytes(i), 5);
    await sleep(120);
    expect(ob.retries).to.be.greaterThan(0);
    expect(ob.pending).to.equal(20);
    const r = receiver(bus);
    expect(await ob.drain(5000)).to.equal(0);
    expect(r.got.slice().sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    expect(ob.acked).to.equal(100);
    expect(ob.lost).to.equal(0);
    await bus.close();
  });

  it("resends on RETRY, does not resend on REJECTED, and counts both", async () => {
    const bus = new InProcessBus();
    // batch 3 fails to store twice, batch 5 is malformed
    const r = receiver(bus, (id, attempt) => (id === 5 ? TRANSITION_REPLY.REJECTED : id === 3 && attempt <= 2 ? TRANSITION_REPLY.RETRY : TRANSITION_REPLY.ACK));
    const ob = new Outbox(bus, { window: 2, maxQueued: 100, timeoutMs: 1000, backoffMs: 5 });
    for (let i = 0; i < 8; i++) ob.send(SUBJECT, bytes(i), 1);
    expect(await ob.drain(5000)).to.equal(0);
    expect(r.attempts.get(3)).to.equal(3);
    expect(r.attempts.get(5)).to.equal(1);
    expect(ob.acked).to.equal(7);
    expect(ob.rejected).to.equal(1);
    expect(ob.retries).to.equal(2);
    expect(r.got.slice().sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 6, 7]);
    await bus.close();
  });

  it("bounds its queue: beyond maxQueued the oldest batch is dropped and counted as lost, never queued without limit", async () => {
    const bus = new InProcessBus();
    const lines: string[] = [];
    const ob = new Outbox(bus, { window: 1, maxQueued: 3, timeoutMs: 200, backoffMs: 1000, log: (l) => lines.push(l) });
    for (let i = 0; i < 10; i++) ob.send(SUBJECT, bytes(i), 7);
    await sleep(20); // the first request failed at once (no responders): it went back to the queue
    expect(ob.pending).to.be.at.most(4);
    expect(ob.lost).to.equal(7 * (10 - ob.pending));
    expect(lines.some((l) => l.includes("outbox full"))).to.equal(true);
    ob.close();
    expect(ob.lost).to.equal(70 - 7 * ob.pending);
    await bus.close();
  });

  it("over real NATS: a learner that starts late still gets every batch", async () => {
    const a = await NatsBus.connect({ url: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "outbox-test-actor" });
    const b = await NatsBus.connect({ url: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "outbox-test-learner" });
    try {
      const ob = new Outbox(a, { window: 4, maxQueued: 100, timeoutMs: 1000, backoffMs: 20, maxBackoffMs: 100 });
      for (let i = 0; i < 30; i++) ob.send(SUBJECT, bytes(i), 1);
      await sleep(150);
      const r = receiver(b);
      await b.flush();
      expect(await ob.drain(10_000)).to.equal(0);
      expect([...new Set(r.got)].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 30 }, (_, i) => i));
      expect(ob.acked).to.equal(30);
      expect(ob.lost).to.equal(0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
