/**
 * Redis lost mid-run: a learner and one actor as real processes over the shared NATS and an own
 * redis-server (spare loopback port, no persistence). The redis-server is SIGKILLed mid-run and
 * restarted on the same port some seconds later. The learner answers RETRY (or nothing) while its
 * replay insert fails; the actor keeps its bounded queue, pauses stepping once
 * maxPendingBatches are unacknowledged (back-pressure), resumes when acknowledgements flow again,
 * and the run completes with nothing lost. Prints the recovery time (Redis back → stepping again).
 */
import { expect } from "chai";
import { spawn as spawnProcess, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsBus } from "../../transport/bus-nats";
import { spawnComponent } from "../../launch/multiprocess";
import { subjectsFor } from "../../transport/subjects";
import { DEFAULT_MAX_PENDING_BATCHES } from "../../nodes/actor";
import { NATS_URL, uid } from "./bus.contract";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** An own redis-server on `port` (no persistence); resolves once it accepts connections, null if it exited. */
async function startRedis(port: number, dir: string): Promise<ChildProcess | null> {
  const child = spawnProcess("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  for (let i = 0; i < 200; i++) {
    if (/Ready to accept connections/.test(out)) return child;
    if (child.exitCode !== null) return null;
    await sleep(50);
  }
  child.kill("SIGKILL");
  return null;
}

describe("Redis lost mid-run (processes, own redis-server)", function () {
  this.timeout(300_000);
  const run = `redislost${uid()}`;
  const dir = mkdtempSync(join(tmpdir(), "fedrl-redislost-"));
  const cfg = join(dir, "exp.yaml");
  const STEPS = 6000;
  writeFileSync(cfg, `
run: ${run}
mode: hybrid
seed: 4
runDir: ${join(dir, "run")}
env: { id: CartPole-v1 }
agent: { lr: 0.001, learningStarts: 500, epsilonSchedule: linear, epsilonDecaySteps: 4000, targetUpdate: hard, targetUpdateEvery: 100 }
actors: { count: 1, batchSteps: 20, batchMs: 1000000, weights: { ms: 1500 }, ackTimeoutMs: 2000, maxStepsPerSec: 400 }
learner:
  tick: { ms: 200 }
  replayRatio: 0.25
  updatesPerTick: 50
  publish: { ms: 1000 }
  warmup: 200
  checkpoint: { ms: 60000 }
  replay: { capacity: 20000 }
aggregator: { interval: { ms: 3000 }, staleAfter: { ms: 60000 } }
budget: { stepsPerActor: ${STEPS} }
eval: { episodes: 1, seed: 5000 }
`);
  const logs: { t: number; line: string }[] = [];
  const log = (line: string) => void logs.push({ t: Date.now(), line });
  const children: ChildProcess[] = [];
  let redis: ChildProcess | null = null;
  let bus: NatsBus;
  const beats: { t: number; steps: number; paused: boolean; pending: number }[] = [];

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    if (redis && redis.exitCode === null) redis.kill("SIGKILL");
    await bus?.close();
  });

  it("the actor pauses while Redis is down, resumes when it is back; nothing is lost, the learner survives", async () => {
    const port = await sparePort();
    redis = await startRedis(port, dir);
    expect(redis, "redis-server started").to.not.equal(null);
    const env = { ...process.env, NATS_URL, REDIS_URL: `redis://127.0.0.1:${port}`, FEDRL_CHILD: "1" };
    bus = await NatsBus.connect({ url: NATS_URL });
    bus.subscribe(subjectsFor(run).metrics("actor-0"), (m) => {
      const s = JSON.parse(new TextDecoder().decode(m.data));
      beats.push({ t: Date.now(), steps: s.steps, paused: !!s.backpressure?.paused, pending: s.delivery?.pending ?? 0 });
    });
    const learner = spawnComponent(["learner", "--config", cfg], env, "learner", log);
    children.push(learner);
    for (let i = 0; i < 600 && !logs.some((l) => /learner up/.test(l.line)); i++) await sleep(100);
    const actor = spawnComponent(["actor", "--id", "actor-0", "--config", cfg], env, "actor-0", log);
    children.push(actor);
    // Kill Redis once the actor is well under way (and some batches were acknowledged).
    for (let i = 0; i < 1200 && !beats.some((b) => b.steps >= 1500); i++) await sleep(100);
    expect(beats.some((b) => b.steps >= 1500), logs.map((l) => l.line).join("\n")).to.equal(true);
    const tKill = Date.now();
    redis!.kill("SIGKILL");
    await exited(redis!);
    // Down until the actor has paused (back-pressure), then a few seconds more.
    for (let i = 0; i < 600 && !logs.some((l) => l.t > tKill && /stepping paused/.test(l.line)); i++) await sleep(100);
    const pausedLine = logs.find((l) => l.t > tKill && /stepping paused/.test(l.line));
    expect(pausedLine, logs.map((l) => l.line).join("\n")).to.not.equal(undefined);
    await sleep(5000);
    const stepsBeforeRestart = beats[beats.length - 1]!;
    const tRestart = Date.now();
    redis = await startRedis(port, dir);
    expect(redis, "redis-server restarted on the same port").to.not.equal(null);
    const code = await exited(actor);
    expect(code, logs.map((l) => l.line).join("\n")).to.equal(0);
    // The learner is still up (did not crash while Redis was away); stop it as `fedrl run` would.
    expect(learner.exitCode, logs.map((l) => l.line).join("\n")).to.equal(null);
    learner.kill("SIGTERM");
    expect(await exited(learner)).to.equal(0);

    const text = logs.map((l) => l.line).join("\n");
    const done = /actor actor-0 done: (\{.*\})/.exec(text);
    expect(done, text).to.not.equal(null);
    const stats = JSON.parse(done![1]!);
    expect(stats.steps).to.equal(STEPS);
    expect(stats.delivery.lost, text).to.equal(0);
    expect(stats.delivery.pending).to.equal(0);
    expect(stats.delivery.acked).to.equal(STEPS);
    expect(stats.delivery.retries).to.be.greaterThan(0);
    expect(stats.backpressure.pauses).to.be.at.least(1);
    // While down and paused, the actor's steps stood still: heartbeats between the pause and the
    // restart advance by at most the steps of one stepMany call that was under way.
    const whilePaused = beats.filter((b) => b.t > pausedLine!.t + 500 && b.t < tRestart);
    expect(whilePaused.length, JSON.stringify(beats)).to.be.greaterThan(0);
    expect(whilePaused.every((b) => b.paused)).to.equal(true);
    expect(Math.max(...whilePaused.map((b) => b.steps)) - Math.min(...whilePaused.map((b) => b.steps))).to.equal(0);
    expect(stepsBeforeRestart.pending).to.be.at.least(DEFAULT_MAX_PENDING_BATCHES);
    const resumed = logs.find((l) => l.t > tRestart && /stepping resumed/.test(l.line));
    expect(resumed, text).to.not.equal(undefined);
    const firstBeatAfter = beats.find((b) => b.t > tRestart && b.steps > stepsBeforeRestart.steps);
    console.log(`      Redis down ${((tRestart - tKill) / 1000).toFixed(1)} s; paused at ${stepsBeforeRestart.steps} steps (${stepsBeforeRestart.pending} batches pending); ` +
      `stepping again ${((resumed!.t - tRestart) / 1000).toFixed(1)} s after the restart (first heartbeat with more steps after ${firstBeatAfter ? ((firstBeatAfter.t - tRestart) / 1000).toFixed(1) : "?"} s); ` +
      `retries ${stats.delivery.retries}, lost ${stats.delivery.lost}, paused ${(stats.backpressure.pausedMs / 1000).toFixed(1)} s in total`);
    const replayErrors = (text.match(/replay insert failed/g) ?? []).length;
    console.log(`      learner: ${replayErrors} "replay insert failed" lines`);
  });
});
