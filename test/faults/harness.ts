/**
 * One fault case: its own redis-server (AOF everysec) and nats-server (JetStream file store) on
 * spare loopback ports, a learner and two actors as real processes (launch/multiprocess.ts's
 * spawnComponent), the delivery observer, and the final audit of the replay against every row the
 * learner acknowledged.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { spawnComponent } from "../../launch/multiprocess";
import { replayKeys } from "../../transport/replay-redis";
import { DeliveryObserver } from "./observer";
import { exited, freePort, killHard, natsServer, redisServer, started, type ServerProc } from "./servers";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Delivery {
  acked: number;
  rejected: number;
  lost: number;
  retries: number;
  pending: number;
}

export interface Audit {
  /** Rows the learner acknowledged (observer). */
  acked: number;
  /** Of those, rows not in the replay now, and when the earliest / latest of them was acknowledged. */
  missing: number;
  missingFirstAck: number | null;
  missingLastAck: number | null;
  /** Rows the Redis cursor says were ever inserted, and rows the hash holds. */
  cursor: number;
  held: number;
  /** Rows the trust gate evicted on purpose (not a loss). */
  evicted: number;
  /** Actor-side counters, summed over the actors' final reports (the killed incarnation's last heartbeat included). */
  delivery: Delivery;
}

let seq = 0;

export class FaultRun {
  readonly dir: string;
  readonly run: string;
  readonly cfg: string;
  redis!: ServerProc;
  nats!: ServerProc;
  obs!: DeliveryObserver;
  readonly logs: string[] = [];
  learner: ChildProcess | null = null;
  readonly actors: (ChildProcess | null)[] = [null, null];
  private readonly procs: ChildProcess[] = [];

  constructor(readonly name: string, readonly budgetSeconds: number) {
    this.dir = mkdtempSync(join(tmpdir(), `fedrl-fault-${name}-`));
    this.run = `fault${name}${process.pid}${seq++}`;
    this.cfg = join(this.dir, "exp.yaml");
  }

  get env(): NodeJS.ProcessEnv {
    // FEDRL_CHILD: as under `fedrl run`, the test decides when the learner stops.
    return { ...process.env, NATS_URL: this.nats.url, REDIS_URL: this.redis.url, FEDRL_CHILD: "1", FEDRL_DEBUG: "" };
  }

  async start(): Promise<void> {
    const [rp, np] = [await freePort(), await freePort()];
    mkdirSync(join(this.dir, "redis"));
    mkdirSync(join(this.dir, "nats"));
    this.redis = redisServer(rp, join(this.dir, "redis"));
    this.nats = natsServer(np, join(this.dir, "nats"));
    await Promise.all([this.redis.start(), this.nats.start()]);
    writeFileSync(this.cfg, `
run: ${this.run}
mode: hybrid
seed: 7
clock: wall
runDir: ${join(this.dir, "run")}
env: { id: CartPole-v1 }
agent: { lr: 0.001, learningStarts: 500, epsilonSchedule: linear, epsilonDecaySteps: 4000, targetUpdate: hard, targetUpdateEvery: 100 }
actors: { count: 2, batchSteps: 100, batchMs: 300, weights: { ms: 2000 } }
learner:
  tick: { ms: 300 }
  replayRatio: 0.25
  updatesPerTick: 20
  publish: { ms: 1000 }
  warmup: 500
  checkpoint: { ms: 3000 }
  replay: { capacity: 1000000 }
  filter: { name: none }
aggregator: { interval: { ms: 3000 }, staleAfter: { ms: 30000 } }
budget: { seconds: ${this.budgetSeconds} }
`);
    this.obs = await DeliveryObserver.connect(this.nats.url, this.run, 4, 2);
  }

  private spawn(args: string[], tag: string): ChildProcess {
    const c = spawnComponent([...args, "--config", this.cfg], this.env, tag, (l) => void this.logs.push(`${((Date.now() % 1e6) / 1000).toFixed(1)} ${l}`));
    this.procs.push(c);
    started.add(c);
    return c;
  }

  spawnLearner(): ChildProcess {
    return (this.learner = this.spawn(["learner"], "learner"));
  }

  spawnActor(i: number): ChildProcess {
    return (this.actors[i] = this.spawn(["actor", "--id", `actor-${i}`], `actor-${i}`));
  }

  /** The learner, then (once it is up) both actors. */
  async startComponents(): Promise<void> {
    const since = this.logs.length;
    this.spawnLearner();
    await this.waitLog(/\[learner\] learner up:/, 60_000, since);
    this.spawnActor(0);
    this.spawnActor(1);
  }

  async waitLog(re: RegExp, ms = 30_000, from = 0): Promise<string> {
    const t0 = Date.now();
    for (;;) {
      const hit = this.logs.slice(from).find((l) => re.test(l));
      if (hit) return hit;
      if (Date.now() - t0 > ms) throw new Error(`${this.name}: no log line matching ${re} in ${ms} ms; last lines:\n${this.tail()}`);
      await sleep(100);
    }
  }

  async until(what: string, cond: () => boolean, ms: number): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`${this.name}: ${what} not within ${ms} ms; last lines:\n${this.tail()}`);
      await sleep(100);
    }
  }

  tail(n = 25): string {
    return this.logs.slice(-n).join("\n");
  }

  /** Waits until both actors acknowledged rows and then `ms` more: the fault lands mid-run. */
  async midRun(ms: number): Promise<void> {
    await this.until("acks from both actors", () => this.obs.acked("actor-0") > 0 && this.obs.acked("actor-1") > 0, 90_000);
    await sleep(ms);
  }

  /** kill -9 of a component by PID; resolves once it is gone. */
  async kill9(c: ChildProcess): Promise<void> {
    killHard(c);
    await exited(c);
  }

  /** The actor's final report: its `done` heartbeat, or its `done:` log line. */
  finalStats(id: string): Record<string, any> | null {
    const hb = this.obs.heartbeats.get(id);
    if (hb?.done) return hb;
    const re = new RegExp(`actor ${id} done: (\\{.*\\})$`);
    for (let i = this.logs.length - 1; i >= 0; i--) {
      const m = re.exec(this.logs[i]!);
      if (m) {
        try {
          return JSON.parse(m[1]!) as Record<string, any>;
        } catch {
          return null;
        }
      }
    }
    return null;
  }

  /** Both actors exit (0 expected), the learner drains (received stable), stops on SIGTERM. */
  async finish(): Promise<{ actorCodes: (number | null)[]; learnerCode: number | null }> {
    const actorCodes = await Promise.all(this.actors.map((a) => exited(a!)));
    let prev = -1;
    for (let i = 0; i < 15; i++) {
      await sleep(2100);
      const r = this.obs.heartbeats.get("learner")?.received ?? -2;
      if (r === prev) break;
      prev = r;
    }
    this.learner!.kill("SIGTERM");
    const learnerCode = await Promise.race([exited(this.learner!), sleep(30_000).then(() => "timeout" as const)]);
    if (learnerCode === "timeout") throw new Error(`${this.name}: learner did not stop within 30 s of SIGTERM:\n${this.tail()}`);
    return { actorCodes, learnerCode };
  }

  /** Every acknowledged row looked up in the replay's hash. */
  async audit(extra: Delivery[] = []): Promise<Audit> {
    const redis = new Redis(this.redis.url, { maxRetriesPerRequest: 3 });
    try {
      const k = replayKeys(this.run);
      const cursor = Number((await redis.get(k.cursor)) ?? 0);
      const hash = await redis.hgetallBuffer(k.data);
      const held = new Set<string>();
      for (const v of Object.values(hash)) held.add(v.toString("base64"));
      let acked = 0, missing = 0;
      let missingFirstAck: number | null = null, missingLastAck: number | null = null;
      for (const [actor, rows] of this.obs.ackedRows) {
        const at = this.obs.ackedAt.get(actor)!;
        rows.forEach((r, i) => {
          acked++;
          if (held.has(r)) return;
          missing++;
          missingFirstAck = Math.min(missingFirstAck ?? Infinity, at[i]!);
          missingLastAck = Math.max(missingLastAck ?? -Infinity, at[i]!);
        });
      }
      const gate = (this.obs.heartbeats.get("learner")?.gate ?? {}) as Record<string, { evicted?: number }>;
      const evicted = Object.values(gate).reduce((s, g) => s + (g.evicted ?? 0), 0);
      const delivery: Delivery = { acked: 0, rejected: 0, lost: 0, retries: 0, pending: 0 };
      const reports = [0, 1].map((i) => this.finalStats(`actor-${i}`)?.delivery as Delivery | undefined);
      for (const d of [...reports, ...extra]) {
        if (!d) continue;
        for (const f of Object.keys(delivery) as (keyof Delivery)[]) delivery[f] += d[f] ?? 0;
      }
      return { acked, missing, missingFirstAck, missingLastAck, cursor, held: Object.keys(hash).length, evicted, delivery };
    } finally {
      redis.disconnect();
    }
  }

  /** Kills whatever of this case still runs (by PID), closes the observer, removes the temp dir. */
  async cleanup(keepDir = false): Promise<void> {
    for (const c of this.procs) killHard(c);
    await Promise.all(this.procs.map((c) => exited(c)));
    await this.obs?.close().catch(() => {});
    for (const s of [this.redis, this.nats]) if (s) await s.kill9();
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
