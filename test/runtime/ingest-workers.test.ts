/**
 * Ingest workers over real NATS + Redis: a queue group shares the batches, every batch is stored
 * once — also a retry that reaches another worker, and batches a killed worker never answered.
 */
import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { syntheticBatch } from "../../core/batch";
import { Random } from "../../core/random";
import { parseExperiment } from "../../launch/config";
import { assembleIngestWorker, type IngestWorkerParts } from "../../launch/assemble";
import { spawnComponent } from "../../launch/multiprocess";
import { NatsBus } from "../../transport/bus-nats";
import { encodeTransitions } from "../../transport/codec";
import { BusUplink } from "../../transport/links";
import { RedisReplay, replayKeys } from "../../transport/replay-redis";
import { subjectsFor } from "../../transport/subjects";
import { NATS_URL, REDIS_URL, uid } from "./bus.contract";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROWS = 16;
/** CartPole-shaped rows inside its observation bounds, distinct per (seed). */
const rows = (seed: number) => {
  const b = syntheticBatch(ROWS, 4, 2, new Random(seed));
  for (let i = 0; i < b.obs.length; i++) { b.obs[i] = (b.obs[i]! - 0.5) * 0.1; b.nextObs[i] = (b.nextObs[i]! - 0.5) * 0.1; }
  return b;
};
const hybrid = (run: string) => parseExperiment({
  run, mode: "hybrid", env: { id: "CartPole-v1" }, transport: { nats: NATS_URL, redis: REDIS_URL },
  learner: { filter: { name: "none" }, ingest: { workers: 2 }, replay: { capacity: 10000 } },
});

async function cleanup(redis: Redis, run: string) {
  const k = replayKeys(run);
  const seen = await redis.keys(k.seen("*"));
  await redis.del(k.data, k.cursor, k.meta, ...seen);
}

describe("ingest workers (queue group, NATS + Redis)", function () {
  this.timeout(120_000);

  it("share the batches, acknowledge each once stored, and store a retried batch once whichever worker gets it", async () => {
    const run = `ing${uid()}`;
    const exp = hybrid(run);
    const redis = new Redis(REDIS_URL);
    const buses = await Promise.all([0, 1, 2].map(() => NatsBus.connect({ url: NATS_URL })));
    const workers: IngestWorkerParts[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const replay = await RedisReplay.open(redis, { run, capacity: 10000, obsDim: 4 });
        const w = await assembleIngestWorker(exp, { bus: buses[i]!, replay, log: () => {} }, i);
        await w.link.start(w.ingest.onBatch, () => {});
        workers.push(w);
      }
      await Promise.all(buses.map((b) => b.flush()));
      const pub = buses[2]!;
      const subject = subjectsFor(run).transitions("actor-0");
      const ts = Date.now();
      const msgs = Array.from({ length: 24 }, (_, k) => encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: k, ts, batch: rows(k) }));
      const replies = await Promise.all(msgs.map((m) => pub.request(subject, m, { timeoutMs: 5000 })));
      expect(replies.map((r) => r[0])).to.deep.equal(msgs.map(() => 1)); // ACK
      const counts = workers.map((w) => w.ingest.counters.accepted / ROWS);
      expect(counts[0]! + counts[1]!).to.equal(24);
      expect(Math.min(...counts), `batches per worker ${counts}`).to.be.greaterThan(0);
      expect(Number(await redis.get(replayKeys(run).cursor))).to.equal(24 * ROWS);
      // Retries whose first ack was lost: the same messages again, to whichever worker the group picks.
      const again = await Promise.all(msgs.slice(0, 12).map((m) => pub.request(subject, m, { timeoutMs: 5000 })));
      expect(again.map((r) => r[0])).to.deep.equal(msgs.slice(0, 12).map(() => 1));
      expect(Number(await redis.get(replayKeys(run).cursor))).to.equal(24 * ROWS);
      const dup = workers.reduce((s, w) => s + w.ingest.counters.duplicates + w.link.stats().duplicates, 0);
      expect(dup).to.equal(12);
      // The replay holds each batch's rows exactly once.
      const replay = await RedisReplay.open(redis, { run, capacity: 10000, obsDim: 4 });
      expect(await replay.size()).to.equal(24 * ROWS);
    } finally {
      for (const w of workers) { await w.link.close(); await w.downlink.close(); w.dispose(); }
      for (const b of buses) await b.close();
      await cleanup(redis, run);
      redis.disconnect();
    }
  });

  it("a worker killed mid-stream loses nothing: unanswered batches are retried to the other worker, each stored once", async () => {
    const run = `ink${uid()}`;
    const dir = mkdtempSync(join(tmpdir(), "fedrl-ingest-"));
    const cfg = join(dir, "exp.yaml");
    writeFileSync(cfg, `run: ${run}\nmode: hybrid\nrunDir: ${join(dir, "run")}\nenv: { id: CartPole-v1 }\nlearner: { filter: { name: none }, ingest: { workers: 2 }, replay: { capacity: 20000 } }\n`);
    const env = { ...process.env, NATS_URL, REDIS_URL, FEDRL_CHILD: "1" };
    const lines: string[] = [];
    const procs: ChildProcess[] = [0, 1].map((i) => spawnComponent(["ingest", "--index", String(i), "--config", cfg], env, `ingest-${i}`, (l) => void lines.push(l)));
    const redis = new Redis(REDIS_URL);
    const bus = await NatsBus.connect({ url: NATS_URL });
    try {
      for (let i = 0; i < 300 && lines.filter((l) => l.includes(" up: run")).length < 2; i++) await sleep(100);
      expect(lines.filter((l) => l.includes(" up: run")), lines.join("\n")).to.have.length(2);
      const up = new BusUplink(bus, subjectsFor(run), "actor-0", "CartPole-v1", { delivery: "ack", window: 4, maxQueued: 1000, ackTimeoutMs: 1000 });
      const N = 60;
      for (let k = 0; k < N; k++) {
        up.sendTransitions(rows(1000 + k));
        if (k === 20) procs[0]!.kill("SIGKILL"); // mid-stream: some of its batches are in flight, unanswered
        await sleep(15);
      }
      const left = await up.drain(30_000);
      expect(left).to.equal(0);
      const s = up.stats().delivery!;
      expect(s.acked).to.equal(N * ROWS); // transitions
      expect(s.lost).to.equal(0);
      console.log(`      killed worker: ${s.retries} retried batch(es), all ${N} stored once`);
      expect(Number(await redis.get(replayKeys(run).cursor))).to.equal(N * ROWS);
      procs[1]!.kill("SIGTERM");
      await new Promise((r) => (procs[1]!.exitCode !== null ? r(null) : procs[1]!.once("exit", r)));
      expect(procs[1]!.exitCode).to.equal(0);
    } finally {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      await bus.close();
      await cleanup(redis, run);
      redis.disconnect();
    }
  });

  it("fedrl ingest refuses what it cannot serve with one line (no NATS, a mode without a replay, a bad index)", () => {
    const cli = (args: string[], env: Record<string, string>) => spawnSync(process.execPath, ["bin/fedrl.mjs", "ingest", ...args], { encoding: "utf8", env: { ...process.env, ...env } });
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[], { NATS_URL: "", REDIS_URL: "" }, /^config error: this component talks over NATS: set NATS_URL/],
      [["--set", "mode=fedavg"], { NATS_URL, REDIS_URL }, /^config error: mode fedavg has no replay to ingest into \(ingest workers serve mode hybrid\)$/],
      [[], { NATS_URL, REDIS_URL, FEDRL_INGEST_INDEX: "x" }, /^fedrl: --index \(or FEDRL_INGEST_INDEX\): expected a whole number ≥ 0, got "x"$/],
    ];
    for (const [args, env, re] of cases) {
      const r = cli(args, env);
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr.trim().split("\n")[0]).to.match(re);
    }
  });
});
