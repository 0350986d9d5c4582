import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { MemoryReplay } from "../../transport/replay-memory";
import { RedisReplay, replayKeys } from "../../transport/replay-redis";
import type { ReplayStore } from "../../core/replay";
import { allocBatch, type TransitionBatch } from "../../core/batch";
import { REDIS_URL, uid } from "./bus.contract";

const execFileP = promisify(execFile);

/** Rows whose every field encodes its id, so any sampled row can be checked for integrity. */
function rows(from: number, n: number, d = 4): TransitionBatch {
  const b = allocBatch(n, d);
  for (let i = 0; i < n; i++) {
    const id = from + i;
    for (let k = 0; k < d; k++) {
      b.obs[i * d + k] = id + k / 8;
      b.nextObs[i * d + k] = id + 1 + k / 8;
    }
    b.actions[i] = id;
    b.rewards[i] = id * 0.5;
    b.terminated[i] = id % 3 === 0 ? 1 : 0;
    b.truncated[i] = id % 5 === 0 ? 1 : 0;
  }
  return b;
}

function checkIntegrity(b: TransitionBatch): number[] {
  const ids: number[] = [];
  const d = b.obsDim;
  for (let i = 0; i < b.n; i++) {
    const id = b.actions[i]!;
    for (let k = 0; k < d; k++) {
      expect(b.obs[i * d + k]).to.equal(id + k / 8);
      expect(b.nextObs[i * d + k]).to.equal(id + 1 + k / 8);
    }
    expect(b.rewards[i]).to.equal(id * 0.5);
    expect(b.terminated[i]).to.equal(id % 3 === 0 ? 1 : 0);
    expect(b.truncated[i]).to.equal(id % 5 === 0 ? 1 : 0);
    ids.push(id);
  }
  return ids;
}

function replayContract(name: string, open: (capacity: number, obsDim: number, run?: string) => Promise<ReplayStore>, extra?: () => void) {
  describe(`ReplayStore contract: ${name}`, () => {
    it("inserts, reports size and capacity, samples intact rows", async () => {
      const r = await open(100, 4);
      expect(await r.size()).to.equal(0);
      expect(await r.insert(rows(0, 30))).to.equal(30);
      expect(await r.size()).to.equal(30);
      const ids = checkIntegrity(await r.sample(64));
      expect(ids.every((id) => id >= 0 && id < 30)).to.equal(true);
      const s = await r.stats();
      expect(s).to.include({ size: 30, capacity: 100, inserted: 30, obsDim: 4 });
    });

    it("wraps around at capacity, keeping the newest rows", async () => {
      const r = await open(10, 4);
      await r.insert(rows(0, 7));
      await r.insert(rows(7, 18)); // 25 in total
      expect(await r.size()).to.equal(10);
      expect((await r.stats()).inserted).to.equal(25);
      const ids = new Set(checkIntegrity(await r.sample(500)));
      expect([...ids].sort((a, b) => a - b)).to.deep.equal([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    });

    it("samples uniformly (chi-square, fixed seed, generous margin)", async () => {
      const r = await open(100, 4);
      await r.insert(rows(0, 100));
      const counts = new Array(100).fill(0);
      for (let t = 0; t < 50; t++) for (const id of checkIntegrity(await r.sample(400))) counts[id]++;
      const expected = 20000 / 100;
      const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
      // 99 degrees of freedom: the 99.9th percentile is 148.2.
      expect(chi2).to.be.lessThan(148.2);
    });

    it("rejects sampling an empty replay and clears", async () => {
      const r = await open(10, 4);
      let threw = false;
      try { await r.sample(1); } catch { threw = true; }
      expect(threw).to.equal(true);
      await r.insert(rows(0, 5));
      await r.clear();
      expect(await r.size()).to.equal(0);
    });

    it("evicts rows by insert-index range; sampling skips them; only rows still held are counted; a new insert revives a slot", async () => {
      const r = await open(10, 4);
      await r.insert(rows(0, 6)); // ids 0..5 at insert indices 0..5
      await r.insert(rows(100, 6)); // ids 100..105 at 6..11: the ring (10) now holds indices 2..11
      // evict indices 0..5 (ids 0..5, of which 0 and 1 were already overwritten by 104, 105) and 8..9 (ids 102, 103)
      expect(await r.evict([{ start: 0, end: 6 }, { start: 8, end: 10 }])).to.equal(6);
      const ids = new Set(checkIntegrity(await r.sample(400)));
      expect([...ids].sort((a, b) => a - b)).to.deep.equal([100, 101, 104, 105]);
      expect(await r.evict([{ start: 0, end: 6 }])).to.equal(0); // already gone
      await r.insert(rows(200, 2)); // indices 12, 13 → slots 2, 3 (were ids 2, 3: evicted)
      const after = new Set(checkIntegrity(await r.sample(400)));
      expect([...after].sort((a, b) => a - b)).to.deep.equal([100, 101, 104, 105, 200, 201]);
    });

    it("refuses a batch of another obsDim", async () => {
      const r = await open(10, 4);
      let threw = false;
      try { await r.insert(rows(0, 2, 3)); } catch { threw = true; }
      expect(threw).to.equal(true);
    });
    extra?.();
  });
}

replayContract("in-memory", async (c, d) => new MemoryReplay(c, d, 42));

describe("Redis replay (real server)", () => {
  const clients: Redis[] = [];
  const runs: string[] = [];
  const client = () => {
    const c = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2 });
    clients.push(c);
    return c;
  };
  const open = async (capacity: number, obsDim: number, run = `t${uid()}`) => {
    runs.push(run);
    return RedisReplay.open(client(), { run, capacity, obsDim, seed: 7 });
  };
  after(async () => {
    const c = client();
    for (const r of runs) {
      const k = replayKeys(r);
      await c.del(k.data, k.cursor, k.meta);
    }
    for (const c of clients) c.disconnect();
  });

  replayContract("redis", open, () => {
    it("keeps every row across concurrent inserts from two clients", async () => {
      const run = `t${uid()}`;
      const a = await open(5000, 4, run);
      const b = await open(5000, 4, run);
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => a.insert(rows(i * 100, 100))),
        ...Array.from({ length: 10 }, (_, i) => b.insert(rows(1000 + i * 100, 100))),
      ]);
      expect(await a.size()).to.equal(2000);
      const ids = new Set(checkIntegrity(await b.sample(20000)));
      expect(ids.size).to.be.greaterThan(1900); // every row is there and intact
      expect(Math.max(...ids)).to.equal(1999);
    });

    it("refuses to open a run's replay with another obsDim or capacity, naming both", async () => {
      const run = `t${uid()}`;
      await open(100, 4, run);
      let msg = "";
      try { await open(100, 8, run); } catch (e) { msg = (e as Error).message; }
      expect(msg).to.match(/obsDim 4.*obsDim 8/);
    });
  });

  it("survives the process: a second process sees what the first inserted", async () => {
    const run = `t${uid()}`;
    runs.push(run);
    const tsx = ["--import", "tsx", "test/helpers/replay-child.ts"];
    const first = JSON.parse((await run_(tsx, "insert", run)).trim());
    expect(first).to.deep.equal({ size: 120, inserted: 120, consistent: true });
    const second = JSON.parse((await run_(tsx, "read", run)).trim());
    expect(second).to.deep.equal({ size: 120, inserted: 120, consistent: true });
    async function run_(args: string[], mode: string, r: string) {
      const { stdout } = await execFileP(process.execPath, [...args, mode, r, REDIS_URL]);
      return stdout;
    }
  });
});
