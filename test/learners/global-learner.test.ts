import { expect } from "chai";
import { allocBatch } from "../../core/batch";
import { InProcessBus } from "../../transport/bus-inproc";
import { StepClock } from "../../core/clock";
import { encodeTransitions, encodeWeights } from "../../transport/codec";
import { parseExperiment } from "../../launch/config";
import { assemble } from "../../launch/assemble";
import { MemoryMetrics } from "../../core/metrics";
import { MemoryReplay } from "../../transport/replay-memory";
import { subjectsFor, TRANSITION_REPLY } from "../../transport/subjects";
import type { DqnAgent } from "../../algorithms/dqn/agent";
import type { ReplayStore } from "../../core/replay";

function batch(n: number, offset: number) {
  const b = allocBatch(n, 4);
  for (let i = 0; i < n * 4; i++) {
    b.obs[i] = Math.sin(offset + i) * 0.8; // within CartPole's declared bounds (θ ±0.42, widened ×2)
    b.nextObs[i] = Math.cos(offset + i) * 0.8;
  }
  for (let i = 0; i < n; i++) b.actions[i] = i % 2;
  return b;
}

/** The hybrid recipe's server side alone (learner + aggregation node) over an in-process bus. */
async function setup(replay: ReplayStore = new MemoryReplay(10_000, 4, 1), learnerCfg: Record<string, unknown> = {}) {
  const exp = parseExperiment({ run: "gl-test", clock: "steps", env: { id: "CartPole-v1" }, learner: { filter: { name: "none" }, ...learnerCfg } });
  const bus = new InProcessBus();
  const topo = await assemble(exp, { bus, clock: new StepClock(), metrics: () => new MemoryMetrics(), log: () => {}, replay: async () => replay }, { actors: [], server: true });
  const server = topo.server!;
  const learner = server.learner!;
  const agent = server.agent! as DqnAgent;
  const deliver = (actor: string, data: Uint8Array) => server.link.onTransitions(actor, data, learner.onBatch);
  return { exp, bus, agent, server, learner, replay, deliver, topo };
}

describe("hybrid learner ingest (through the server link)", () => {
  it("gates a distrusted client's batches and evicts the rows it already had in the replay", async () => {
    const { server, replay, deliver, topo } = await setup();
    const learner = server.learner!;
    expect(await deliver("actor-1", encodeTransitions({ actor: "actor-1", env: "CartPole-v1", seq: 0, ts: 1, batch: batch(30, 0) }))).to.equal(true);
    expect(await deliver("actor-2", encodeTransitions({ actor: "actor-2", env: "CartPole-v1", seq: 0, ts: 1, batch: batch(20, 5) }))).to.equal(true);
    expect(await deliver("actor-1", encodeTransitions({ actor: "actor-1", env: "CartPole-v1", seq: 1, ts: 1, batch: batch(10, 9) }))).to.equal(true);
    expect(await replay.size()).to.equal(60);
    // Two rounds in which actor-1's upload was refused by the bounds: trust 1 → 0.5 → 0.25 < 0.5.
    for (let i = 0; i < 2; i++) learner.gate!.onRound([{ actor: "actor-1", weight: 0, used: false, score: NaN, reason: "norm_bound" }, { actor: "actor-2", weight: 1, used: true, score: 1 }], true);
    expect(await deliver("actor-1", encodeTransitions({ actor: "actor-1", env: "CartPole-v1", seq: 2, ts: 1, batch: batch(10, 20) }))).to.equal(false);
    expect(server.rejected.snapshot().byReason.gated).to.equal(1);
    expect(learner.gate!.snapshot()["actor-1"]).to.deep.include({ accepted: 40, gated: 10, evicted: 40 });
    expect((await replay.stats()).evicted).to.equal(40);
    // What is left to sample is actor-2's: rows of batch(20, 5) only.
    const ids = new Set(Array.from((await replay.sample(300)).obs.filter((_, i) => i % 4 === 0)).map((x) => x.toFixed(5)));
    const mine = new Set(Array.from(batch(20, 5).obs.filter((_, i) => i % 4 === 0)).map((x) => x.toFixed(5)));
    for (const id of ids) expect(mine.has(id), id).to.equal(true);
    topo.dispose();
  });


  it("refuses a batch with implausible magnitudes whole (finite 3e38 observations, 1e9 rewards), counted by reason and actor", async () => {
    const { server, replay, deliver, topo } = await setup();
    const huge = batch(20, 0);
    huge.obs[5] = 3e38; // finite, and would poison the model through the replay
    expect(await deliver("actor-3", encodeTransitions({ actor: "actor-3", env: "CartPole-v1", seq: 0, ts: 1, batch: huge }))).to.equal(false);
    const rich = batch(20, 1);
    rich.rewards[7] = 1e9;
    expect(await deliver("actor-3", encodeTransitions({ actor: "actor-3", env: "CartPole-v1", seq: 1, ts: 1, batch: rich }))).to.equal(false);
    const angle = batch(20, 2);
    angle.nextObs[2] = 0.9; // θ beyond 2 × CartPole's 0.419 rad
    expect(await deliver("actor-3", encodeTransitions({ actor: "actor-3", env: "CartPole-v1", seq: 2, ts: 1, batch: angle }))).to.equal(false);
    expect(await deliver("actor-4", encodeTransitions({ actor: "actor-4", env: "CartPole-v1", seq: 0, ts: 1, batch: batch(20, 3) }))).to.equal(true);
    expect(server.rejected.snapshot()).to.deep.include({ byReason: { obs_bound: 2, reward_bound: 1 }, bySource: { "actor-3": 3 } });
    expect(await replay.size()).to.equal(20);
    expect(server.learner!.counters).to.deep.include({ received: 80, refused: 60, accepted: 20 });
    topo.dispose();
  });


  it("a batch delivered twice (a retry whose ack was lost) is acknowledged again but stored once", async () => {
    const { server, replay, deliver, topo } = await setup();
    const msg = encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: 7, ts: 1000, batch: batch(50, 0) });
    expect(await deliver("actor-0", msg)).to.equal(true);
    expect(await deliver("actor-0", msg)).to.equal(true);
    expect(server.link.stats().duplicates).to.equal(1);
    expect(await replay.size()).to.equal(50);
    // the same seq from a restarted actor (a new ts) is a new batch
    const again = encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: 7, ts: 2000, batch: batch(50, 1) });
    expect(await deliver("actor-0", again)).to.equal(true);
    expect(await replay.size()).to.equal(100);
    topo.dispose();
  });

  it("a batch whose payload names another actor than its subject is refused and counted", async () => {
    const { server, replay, deliver, topo } = await setup();
    const msg = encodeTransitions({ actor: "actor-1", env: "CartPole-v1", seq: 0, ts: 1, batch: batch(10, 0) });
    expect(await deliver("actor-0", msg)).to.equal(false);
    expect(server.rejected.snapshot().byReason.bad_id).to.equal(1);
    expect(await replay.size()).to.equal(0);
    topo.dispose();
  });

  it("answers a request with ACK once stored, REJECTED when malformed, RETRY when the replay fails", async () => {
    const failing = new MemoryReplay(10_000, 4, 1);
    let fail = true;
    const insert = failing.insert.bind(failing);
    failing.insert = async (b) => {
      if (fail) throw new Error("replay down");
      return insert(b);
    };
    const { server, bus, topo } = await setup(failing);
    await server.start();
    const subject = subjectsFor("gl-test").transitions("actor-1");
    const msg = encodeTransitions({ actor: "actor-1", env: "CartPole-v1", seq: 0, ts: 5, batch: batch(20, 3) });
    expect((await bus.request(subject, msg))[0]).to.equal(TRANSITION_REPLY.RETRY);
    expect(server.rejected.snapshot().byReason.replay_error).to.equal(1);
    fail = false;
    expect((await bus.request(subject, msg))[0]).to.equal(TRANSITION_REPLY.ACK);
    expect(await failing.size()).to.equal(20);
    const bad = msg.slice();
    bad[bad.length - 3]! ^= 0xff;
    expect((await bus.request(subject, bad))[0]).to.equal(TRANSITION_REPLY.REJECTED);
    await server.stop();
    await bus.close();
    topo.dispose();
  });
});

describe("hybrid learner replay ratio", () => {
  it("makes one update per 1/replayRatio accepted transitions, carries fractions, and counts what the cap cuts", async () => {
    const { learner, deliver, topo } = await setup(undefined, { replayRatio: 0.25, updatesPerTick: 30, warmup: 64 });
    const send = (seq: number, n: number) => deliver("actor-0", encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq, ts: 1, batch: batch(n, seq) }));
    await send(0, 100); // credit 25
    await learner.tick();
    expect(learner.counters.updates).to.equal(25);
    await send(1, 6); // credit 1.5 → 1 update, 0.5 carried
    await learner.tick();
    expect(learner.counters.updates).to.equal(26);
    await send(2, 2); // 0.5 + 0.5 = 1
    await learner.tick();
    expect(learner.counters.updates).to.equal(27);
    await send(3, 400); // credit 100, cap 30: 70 dropped and counted
    await learner.tick();
    expect(learner.counters.updates).to.equal(57);
    expect(learner.updatesSkipped).to.equal(70);
    await learner.tick(); // nothing new: no updates
    expect(learner.counters.updates).to.equal(57);
    topo.dispose();
  });
});

describe("merging moves the target network with the online one", () => {
  it("learner: an aggregation round applies θ' ← α·θ' + (1−α)·Σ w_k θ_k to the target", async () => {
    const { server, agent, topo } = await setup();
    const a = 0.5; // the hybrid recipe's default α
    const g = agent.getParameters();
    const t0 = agent.getTargetParameters().map((v) => v + 0.01); // make target ≠ online
    agent.setTargetParameters(t0);
    const c1 = g.map((v, i) => v + 0.02 * Math.sin(i)), c2 = g.map((v, i) => v - 0.01 * Math.cos(i));
    const agg = server.aggregation!;
    agg.offer("actor-0", { version: 0, samples: 1, layout: agent.layout(), params: c1 });
    agg.offer("actor-1", { version: 0, samples: 1, layout: agent.layout(), params: c2 });
    const r = await agg.aggregate();
    expect(r.changed).to.equal(true);
    const w = r.clients.map((c) => c.weight);
    const t = agent.getTargetParameters(), p = agent.getParameters();
    for (const i of [0, 17, t.length - 1]) {
      const mix = w[0]! * c1[i]! + w[1]! * c2[i]!;
      expect(t[i]).to.be.closeTo(a * t0[i]! + (1 - a) * mix, 1e-5);
      expect(p[i]).to.be.closeTo(a * g[i]! + (1 - a) * mix, 1e-5);
    }
    topo.dispose();
  });
});

describe("hybrid learner config", () => {
  it("learns shipped 1-step rows with γ, not γⁿ, when the actors use n-step returns", async () => {
    const exp = parseExperiment({ run: "gl-nstep", clock: "steps", env: { id: "CartPole-v1" }, agent: { nStep: 3, gamma: 0.9 } });
    const topo = await assemble(exp, { bus: new InProcessBus(), clock: new StepClock(), metrics: () => new MemoryMetrics(), log: () => {}, replay: async () => new MemoryReplay(1000, 4, 1) }, { actors: ["actor-0"], server: true });
    const learner = topo.server!.agent as DqnAgent;
    const actor = topo.agents[0] as DqnAgent;
    expect(learner.config.nStep).to.equal(1);
    expect(actor.config.nStep).to.equal(3);
    // y = r + γ·max Q_target(s′) on a non-terminal row: with γ = 0.9, not 0.9³.
    const b = allocBatch(1, 4);
    b.obs.set([0.01, 0.02, 0.03, 0.04]);
    b.nextObs.set([0.02, 0.03, 0.04, 0.05]);
    b.rewards[0] = 1;
    const q = learner.qValues(b.nextObs, "target");
    expect(learner.tdTargets(b)[0]).to.be.closeTo(1 + 0.9 * Math.max(...q), 1e-5);
    topo.dispose();
  });
});

describe("per-sender state is bounded whatever ids appear on the bus", () => {
  it("20,000 junk ids: rejection counts by source, held uploads, the trust gate and the heartbeat stay small", async () => {
    const { server, learner, deliver, topo } = await setup();
    const layout = server.global.holder.layout();
    const size = server.global.params().length;
    const huge = new Float32Array(size).fill(1e6);
    for (let i = 0; i < 20_000; i++) {
      const id = `junk-${i}`;
      await deliver(id, new TextEncoder().encode("not a frame")); // bad_frame, counted by source
      server.link.onWeights(id, encodeWeights({ actor: id, version: 0, samples: 1, ts: 0, layout, params: huge }), (a, w) => server.aggregation!.offer(a, w));
      if (i % 10 === 0) await deliver(id, encodeTransitions({ actor: id, env: "CartPole-v1", seq: 0, ts: 1, batch: batch(5, i) }));
    }
    const snap = server.rejected.snapshot();
    expect(snap.total).to.equal(40_000); // every junk frame and every implausible upload counted
    expect(Object.keys(snap.bySource).length).to.be.at.most(257); // 256 named + "(other)"
    expect(snap.bySource["(other)"]).to.be.greaterThan(39_000);
    const round = await server.aggregation!.aggregate();
    expect(round.clients.length).to.be.at.most(1024);
    const stats = await learner.stats();
    expect(Object.keys(stats.gate ?? {}).length).to.be.at.most(1024);
    expect(JSON.stringify(stats).length).to.be.lessThan(400_000); // the heartbeat stays far below NATS's 1 MiB
    topo.dispose();
  });
});

describe("learner version after a crash", () => {
  it("never goes backwards: every publish is persisted, a restart continues above the last published version", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "fedrl-ver-"));
    const exp = parseExperiment({ run: "gl-ver", clock: "steps", runDir: dir, env: { id: "CartPole-v1" } });
    const open = async () => assemble(exp, { bus: new InProcessBus(), clock: new StepClock(), metrics: () => new MemoryMetrics(), log: () => {}, replay: async () => new MemoryReplay(1000, 4, 1) }, { actors: [], server: true, checkpoints: true });
    const a = await open();
    await a.server!.start();
    await a.server!.learner!.checkpoint(); // checkpoint at version 0
    a.server!.global.version = 57; // trained on, published, then the process dies before the next checkpoint
    a.server!.global.round = 4;
    await a.server!.publisher.publish();
    a.dispose();
    const b = await open();
    await b.server!.start();
    expect([b.server!.global.version, b.server!.global.round]).to.deep.equal([58, 4]);
    b.dispose();
  });
});

describe("learner: a training tick that would make the model non-finite", () => {
  it("is undone: the global model stays as it was, the version does not move, counted", async () => {
    const { server, learner, replay, topo } = await setup(undefined, { warmup: 10, updatesPerTick: 5 });
    const poison = batch(64, 0);
    poison.rewards.fill(NaN); // straight into the replay: only a bug or a corrupted store could do this
    await replay.insert(poison);
    const before = Array.from(server.global.params());
    const v = server.global.version;
    await learner.tick();
    expect(server.global.params().every(Number.isFinite)).to.equal(true);
    expect(Array.from(server.global.params())).to.deep.equal(before);
    expect(server.global.version).to.equal(v);
    expect(learner.nonFiniteTicks).to.equal(1);
    expect(server.rejected.snapshot().byReason.non_finite_training).to.equal(1);
    topo.dispose();
  });
});
