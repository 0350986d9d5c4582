import { expect } from "chai";
import type { Bus } from "../../core/bus";

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
export const uid = () => Math.random().toString(36).slice(2, 10);

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The behaviour every Bus must have. `open()` gives a fresh connection to the same bus (for
 * NATS: a new connection to the server; for in-process: the same instance).
 */
export function busContract(name: string, open: () => Promise<Bus>, sameBusForAll: boolean): void {
  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    let p: string;
    beforeEach(async () => {
      bus = await open();
      p = `test.${uid()}`;
    });
    afterEach(async () => {
      if (!sameBusForAll) await bus.close();
    });

    it("delivers published bytes in order to a subscriber", async () => {
      const got: string[] = [];
      bus.subscribe(`${p}.a`, (m) => void got.push(dec(m.data)));
      await bus.flush();
      for (let i = 0; i < 50; i++) bus.publish(`${p}.a`, enc(`m${i}`));
      await until(() => got.length === 50);
      expect(got).to.deep.equal(Array.from({ length: 50 }, (_, i) => `m${i}`));
    });

    it("matches * and > wildcards and reports the concrete subject", async () => {
      const star: string[] = [];
      const gt: string[] = [];
      bus.subscribe(`${p}.t.*`, (m) => void star.push(m.subject));
      bus.subscribe(`${p}.>`, (m) => void gt.push(m.subject));
      await bus.flush();
      bus.publish(`${p}.t.x`, enc("1"));
      bus.publish(`${p}.t.y.z`, enc("2"));
      bus.publish(`${p}.u`, enc("3"));
      await until(() => gt.length === 3);
      await until(() => star.length === 1);
      expect(star).to.deep.equal([`${p}.t.x`]);
      expect(gt.sort()).to.deep.equal([`${p}.t.x`, `${p}.t.y.z`, `${p}.u`].sort());
    });

    it("gives each message to one member of a queue group", async () => {
      let a = 0, b = 0;
      bus.subscribe(`${p}.q`, () => void a++, { queue: "g" });
      bus.subscribe(`${p}.q`, () => void b++, { queue: "g" });
      await bus.flush();
      for (let i = 0; i < 100; i++) bus.publish(`${p}.q`, enc("x"));
      await until(() => a + b === 100);
      await new Promise((r) => setTimeout(r, 50));
      expect(a + b).to.equal(100);
    });

    it("counts handler errors and keeps the subscription alive", async () => {
      let ok = 0;
      const sub = bus.subscribe(`${p}.e`, async (m) => {
        if (dec(m.data) === "boom") throw new Error("handler failure");
        ok++;
      });
      await bus.flush();
      bus.publish(`${p}.e`, enc("boom"));
      bus.publish(`${p}.e`, enc("fine"));
      await until(() => ok === 1);
      expect(sub.errors).to.equal(1);
      expect(sub.delivered).to.equal(2);
    });

    it("drops and counts messages beyond maxPending instead of queueing without bound", async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let handled = 0;
      const sub = bus.subscribe(`${p}.slow`, async () => {
        await gate;
        handled++;
      }, { maxPending: 5 });
      await bus.flush();
      for (let i = 0; i < 40; i++) bus.publish(`${p}.slow`, enc("x"));
      await until(() => sub.dropped + sub.delivered + 5 >= 40 && sub.dropped > 0);
      release();
      await until(() => handled + sub.dropped === 40);
      expect(sub.dropped).to.be.greaterThan(0);
      expect(handled).to.be.at.most(6);
    });

    it("answers requests and rejects when nobody answers", async () => {
      bus.subscribe(`${p}.echo`, (m) => m.respond?.(enc(`re:${dec(m.data)}`)));
      await bus.flush();
      expect(dec(await bus.request(`${p}.echo`, enc("hi"), { timeoutMs: 2000 }))).to.equal("re:hi");
      let failed = false;
      try {
        await bus.request(`${p}.nobody`, enc("hi"), { timeoutMs: 300 });
      } catch {
        failed = true;
      }
      expect(failed).to.equal(true);
    });

    it("keeps the last value per key and lets a late joiner read and watch it", async () => {
      const bucket = `t-${uid()}`;
      const lv = await bus.lastValues(bucket);
      expect(await lv.get("global")).to.equal(null);
      await lv.put("global", enc("v1"));
      await lv.put("global", enc("v2"));
      const late = await open();
      const lv2 = await late.lastValues(bucket);
      expect(dec((await lv2.get("global"))!)).to.equal("v2");
      const seen: string[] = [];
      const w = await lv2.watch("global", (d) => void seen.push(dec(d)));
      await until(() => seen.includes("v2"));
      await lv.put("global", enc("v3"));
      await until(() => seen.includes("v3"));
      w.stop();
      if (!sameBusForAll) await late.close();
    });

    it("close() drains: messages published before close are handled", async () => {
      if (sameBusForAll) return; // the in-process bus is shared across tests; covered by flush()
      const other = await open();
      let n = 0;
      other.subscribe(`${p}.d`, async () => {
        await new Promise((r) => setTimeout(r, 1));
        n++;
      });
      await other.flush();
      for (let i = 0; i < 20; i++) bus.publish(`${p}.d`, enc("x"));
      await bus.flush();
      await until(() => n > 0);
      await other.close();
      expect(n).to.equal(20);
    });
  });
}
