import { expect } from "chai";
import type { Bus } from "../../core/bus";
import { allocBatch, type TransitionBatch } from "../../core/batch";
import { RejectionCounter } from "../../core/errors";
import type { GlobalModel, WeightsUpload } from "../../core/links";
import { makeLayout } from "../../core/params";
import { InProcessBus } from "../../transport/bus-inproc";
import { NatsBus } from "../../transport/bus-nats";
import { BusDownlink, BusServerLink, BusUplink } from "../../transport/links";
import { subjectsFor } from "../../transport/subjects";
import { encodeTransitions, encodeWeights } from "../../transport/codec";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const layout = makeLayout([{ name: "w", shape: [3] }]);

function batch(n: number, base: number): TransitionBatch {
  const b = allocBatch(n, 2);
  for (let i = 0; i < n * 2; i++) {
    b.obs[i] = base + i;
    b.nextObs[i] = base - i;
  }
  for (let i = 0; i < n; i++) b.actions[i] = i % 2;
  return b;
}

const until = async (cond: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** The same behaviour over any bus: what an actor's links send is what the server's link hands over. */
function linksContract(name: string, open: () => Promise<Bus>) {
  describe(`links contract: ${name}`, function () {
    this.timeout(20_000);
    it("batches arrive once and are acknowledged; weights and the global model cross validated; forgeries are counted, not handed over", async () => {
      const bus = await open();
      const run = `links-${Date.now().toString(36)}`;
      const subjects = subjectsFor(run);
      const rejected = new RejectionCounter();
      const server = new BusServerLink(bus, subjects, { obsDim: 2, actionCount: 2, layout, maxMessageBytes: 1 << 20, rejected });
      const stored: { actor: string; n: number; first: number }[] = [];
      const weights: { actor: string; w: WeightsUpload }[] = [];
      await server.start(async (actor, b) => {
        stored.push({ actor, n: b.n, first: b.obs[0]! });
        return true;
      }, (actor, w) => weights.push({ actor, w }));
      const up = new BusUplink(bus, subjects, "actor-0", "Test-v0", { delivery: "ack", window: 2, maxQueued: 100, ackTimeoutMs: 2000 });
      const down = new BusDownlink(bus, subjects, layout);
      const got: GlobalModel[] = [];
      await down.subscribe((g) => got.push(g));
      await bus.flush();

      for (let k = 0; k < 5; k++) up.sendTransitions(batch(10, k * 100));
      up.sendWeights({ version: 0, samples: 50, layout, params: new Float32Array([1, 2, 3]) });
      expect(await up.drain(5000)).to.equal(0);
      expect(up.stats().delivery).to.include({ acked: 50, lost: 0, rejected: 0 });
      expect(stored.map((s) => s.first)).to.deep.equal([0, 100, 200, 300, 400]);
      await until(() => weights.length === 1);
      expect(weights[0]!.actor).to.equal("actor-0");
      expect(Array.from(weights[0]!.w.params)).to.deep.equal([1, 2, 3]);

      // another client publishing as actor-0 on actor-1's subject: refused by id, never handed over
      bus.publish(subjects.transitions("actor-1"), encodeTransitions({ actor: "actor-0", env: "Test-v0", seq: 99, ts: 1, batch: batch(3, 7) }));
      bus.publish(subjects.weights("actor-1"), encodeWeights({ actor: "actor-0", version: 0, samples: 1, ts: 1, layout, params: new Float32Array([9, 9, 9]) }));
      bus.publish(subjects.transitions("actor-2"), new Uint8Array([1, 2, 3, 4]));
      await until(() => rejected.total >= 3);
      await server.drain();
      expect(rejected.byReason).to.include({ bad_id: 2 });
      expect(stored).to.have.length(5);
      expect(weights).to.have.length(1);

      await server.publishGlobal({ version: 3, round: 1, layout, params: new Float32Array([4, 5, 6]) });
      bus.publish(subjects.global, new Uint8Array([0xff, 0xfe]));
      await until(() => got.length >= 1 && down.rejected.total >= 1);
      expect(got.at(-1)!.version).to.equal(3);
      expect(Array.from(got.at(-1)!.params)).to.deep.equal([4, 5, 6]);

      // a late joiner reads the current global model from the last-value store
      const late = new BusDownlink(bus, subjects, layout);
      const lateGot: GlobalModel[] = [];
      await late.subscribe((g) => lateGot.push(g));
      await until(() => lateGot.length >= 1);
      expect(lateGot[0]!.version).to.equal(3);

      await late.close();
      await down.close();
      await up.close();
      await server.close();
      await bus.close();
    });
  });
}

linksContract("in-process bus", async () => new InProcessBus());
linksContract("NATS (real server)", () => NatsBus.connect({ url: NATS_URL, name: "fedrl-links-test" }));
