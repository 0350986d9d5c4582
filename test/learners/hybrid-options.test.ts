/**
 * #15 hybrid options: sum-tree and prioritized replay, importance-weighted DQN loss, the learner's
 * sample:insert rate limiter, the scale-free / accept-rate diversity filter, Ape-X exploration per
 * actor, the β schedule, and n-step rows shipped to the learner.
 */
import { expect } from "chai";
import { allocBatch, type TransitionBatch } from "../../core/batch";
import { SumTree } from "../../core/sumtree";
import { Random } from "../../core/random";
import { MemoryReplay } from "../../transport/replay-memory";
import { RedisReplay, replayKeys } from "../../transport/replay-redis";
import { Redis } from "ioredis";
import { REDIS_URL, uid } from "../runtime/bus.contract";
import type { ReplayStore } from "../../core/replay";
import { PrioritizedReplay } from "../../nodes/prioritized";
import { huberLossGrad } from "../../algorithms/dqn/learning";
import { DqnAgent } from "../../algorithms/dqn/agent";
import { DiversityFilter } from "../../federation/diversity";
import { apexEpsilon, actorAgentConfig, blendSchedule } from "../../launch/exploration";
import { parseExperiment, ConfigError } from "../../launch/config";
import { algorithmOf, assemble, envSpace } from "../../launch/assemble";
import { InProcessBus } from "../../transport/bus-inproc";
import { StepClock } from "../../core/clock";
import { MemoryMetrics } from "../../core/metrics";
import { encodeTransitions } from "../../transport/codec";
import { runEmbedded } from "../../launch/embedded";
import type { DqnConfig } from "../../algorithms/dqn/config";
import type { Downlink, Uplink } from "../../core/links";
import { Backpressure, RejectionCounter } from "../../core/errors";
import { BusServerLink } from "../../transport/links";
import { subjectsFor, TRANSITION_REPLY } from "../../transport/subjects";
import { makeLayout } from "../../core/params";
import { Actor } from "../../nodes/actor";
import { makeActorEnvs } from "../../launch/assemble";

/** Rows whose obs[0] is their index (so a drawn row tells which it was). */
function rows(n: number, from = 0, obsDim = 4): TransitionBatch {
  const b = allocBatch(n, obsDim);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < obsDim; c++) b.obs[i * obsDim + c] = c === 0 ? from + i : 0.1 * c;
    b.nextObs.set(b.obs.subarray(i * obsDim, (i + 1) * obsDim), i * obsDim);
    b.actions[i] = i % 2;
    b.rewards[i] = 1;
  }
  return b;
}

describe("sum-tree", () => {
  it("keeps the total, finds slots by prefix mass, never returns a zero-priority slot", () => {
    const t = new SumTree(5);
    [1, 0, 3, 0, 6].forEach((p, s) => t.set(s, p));
    expect(t.total).to.equal(10);
    expect([0, 0.99, 1, 3.99, 4, 9.99].map((m) => t.find(m))).to.deep.equal([0, 0, 2, 2, 4, 4]);
    expect(t.find(10)).to.equal(4); // the right edge
    t.set(4, 0);
    expect(t.find(3.999999)).to.equal(2);
    expect(t.find(100)).to.equal(2);
    const u = new SumTree(5);
    u.load(t.leaves());
    expect(u.total).to.equal(t.total);
    expect(() => t.set(5, 1)).to.throw(RangeError);
    expect(() => t.set(0, NaN)).to.throw(RangeError);
  });
});

describe("prioritized replay (proportional, over the memory replay)", () => {
  it("new rows enter at the max priority; draws follow (|δ| + ε)^α; weights are (N·P)^−β / max", async () => {
    const per = new PrioritizedReplay(new MemoryReplay(8, 4, 3), { alpha: 1, beta: 0.5, betaSteps: 1e9, eps: 1e-3 }, 7);
    await per.insert(rows(4));
    for (let s = 0; s < 4; s++) expect(per.probability(s)).to.be.closeTo(0.25, 1e-12);
    per.update(Int32Array.from([0, 1, 2, 3]), Float32Array.from([0, 1, 3, 0]));
    const p = [0.001, 1.001, 3.001, 0.001];
    const tot = p.reduce((a, b) => a + b, 0);
    for (let s = 0; s < 4; s++) expect(per.probability(s)).to.be.closeTo(p[s]! / tot, 1e-9);
    // A new row enters at the largest priority seen (3.001), so it is drawn soon.
    await per.insert(rows(1, 4));
    expect(per.probability(4)).to.be.closeTo(3.001 / (tot + 3.001), 1e-9);
    const counts = new Array(5).fill(0);
    let wChecked = false;
    for (let k = 0; k < 400; k++) {
      const d = await per.draw(16);
      for (let i = 0; i < 16; i++) {
        const slot = d.slots[i]!;
        expect(d.batch.obs[i * 4]).to.equal(slot); // the row read is the slot drawn
        counts[slot]++;
      }
      if (!wChecked) {
        const P = Array.from(d.slots, (s) => per.probability(s));
        const w = P.map((x) => Math.pow(5 * x, -0.5));
        const m = Math.max(...w);
        for (let i = 0; i < 16; i++) expect(d.weights[i]).to.be.closeTo(w[i]! / m, 1e-6);
        wChecked = true;
      }
    }
    const all = counts.reduce((a, b) => a + b, 0);
    const P = [0.001, 1.001, 3.001, 0.001, 3.001].map((x) => x / (tot + 3.001));
    for (let s = 0; s < 5; s++) expect(counts[s] / all).to.be.closeTo(P[s]!, 0.02);
  });

  it("β anneals to 1; evicted rows are never drawn; overwritten slots re-enter at max priority", async () => {
    const per = new PrioritizedReplay(new MemoryReplay(6, 4, 3), { alpha: 0.6, beta: 0.4, betaSteps: 10, eps: 1e-3 }, 1);
    await per.insert(rows(6));
    await per.evict([{ start: 0, end: 3 }]);
    for (let k = 0; k < 20; k++) for (const s of (await per.draw(8)).slots) expect(s).to.be.at.least(3);
    expect(per.beta).to.equal(1);
    await per.insert(rows(2, 100)); // slots 0 and 1 hold new rows now
    expect(per.probability(0)).to.be.greaterThan(0);
    expect(per.probability(2)).to.equal(0);
  });

  it("refuses a store that cannot read rows by slot", () => {
    const bare = new MemoryReplay(4, 4, 1) as unknown as Record<string, unknown>;
    const noRows = { ...bare, kind: "memory", capacity: 4, obsDim: 4, rowsAt: undefined };
    expect(() => new PrioritizedReplay(noRows as never, { alpha: 0.6, beta: 0.4, betaSteps: 10, eps: 1e-3 })).to.throw(/rowsAt/);
  });
});

describe("rowsAt (rows by ring slot) on both replays, and prioritized replay over Redis", () => {
  const clients: Redis[] = [];
  const runs: string[] = [];
  after(async () => {
    const c = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    for (const r of runs) {
      const k = replayKeys(r);
      await c.del(k.data, k.cursor, k.meta);
    }
    c.disconnect();
    for (const x of clients) x.disconnect();
  });
  const stores: [string, () => Promise<ReplayStore>][] = [
    ["memory", async () => new MemoryReplay(8, 4, 1)],
    ["redis", async () => {
      const c = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
      clients.push(c);
      const run = `per${uid()}`;
      runs.push(run);
      return RedisReplay.open(c, { run, capacity: 8, obsDim: 4, seed: 3 });
    }],
  ];
  for (const [name, open] of stores) {
    it(`${name}: reads the rows of the given slots in order, flags evicted ones; PER draws only live rows`, async () => {
      const store = await open();
      await store.insert(rows(10)); // rows 0..9 in a ring of 8: slots 0,1 hold rows 8,9
      const { batch, missing } = await store.rowsAt!(Int32Array.from([2, 0, 7, 1]));
      expect(Array.from({ length: 4 }, (_, i) => batch.obs[i * 4])).to.deep.equal([2, 8, 7, 9]);
      expect(missing).to.equal(null);
      await store.evict([{ start: 7, end: 8 }]); // row 7, slot 7
      const r = await store.rowsAt!(Int32Array.from([7, 3]));
      expect(Array.from(r.missing!)).to.deep.equal([1, 0]);
      expect(r.batch.obs[0]).to.equal(3); // the missing row is a copy of a valid one
      const per = new PrioritizedReplay(store, { alpha: 1, beta: 0.4, betaSteps: 10, eps: 1e-3 }, 5);
      await per.adoptExisting(); // the rows already held (a resumed replay) enter at the max priority
      for (let k = 0; k < 10; k++) {
        const d = await per.draw(8);
        for (let i = 0; i < 8; i++) if (d.weights[i]! > 0) expect(d.batch.obs[i * 4]).to.not.equal(7);
      }
      expect(per.probability(7)).to.equal(0); // the evicted slot was found missing and zeroed
    });
  }
});

describe("importance-weighted DQN loss", () => {
  it("weights 1 give the unweighted loss and gradient bit for bit; weight 0 silences a row; w scales it", () => {
    const q = Float32Array.from([1, 2, 0.5, -1, 3, 0]);
    const y = Float32Array.from([0.2, 4, 2.5]);
    const acts = Int32Array.from([0, 1, 0]);
    const g0 = new Float32Array(6), g1 = new Float32Array(6), g2 = new Float32Array(6);
    const l0 = huberLossGrad(q, acts, y, 3, 2, 1, g0);
    const l1 = huberLossGrad(q, acts, y, 3, 2, 1, g1, Float32Array.from([1, 1, 1]));
    expect(l1).to.equal(l0);
    expect(Array.from(g1)).to.deep.equal(Array.from(g0));
    const l2 = huberLossGrad(q, acts, y, 3, 2, 1, g2, Float32Array.from([0.5, 0, 1]));
    expect(g2[0]).to.be.closeTo(0.5 * g0[0]!, 1e-7);
    expect(g2[3]).to.equal(0);
    expect(g2[4]).to.equal(g0[4]);
    expect(l2).to.be.lessThan(l0);
  });

  it("DqnAgent.learn takes row weights on engine js (ones = unweighted) and refuses them on wasm", () => {
    const cfg = { hidden: [8], batchSize: 4, engine: "js" as const, seed: 3 };
    const a = new DqnAgent({ obsDim: 4, numActions: 2, config: cfg });
    const b = new DqnAgent({ obsDim: 4, numActions: 2, config: cfg });
    const batch = rows(4);
    a.learn(batch);
    b.learn(batch, new Float32Array(4).fill(1));
    expect(Array.from(b.getParameters())).to.deep.equal(Array.from(a.getParameters()));
    expect(a.rowWeights).to.equal(true);
    const w = new DqnAgent({ obsDim: 4, numActions: 2, config: { ...cfg, engine: "wasm" } });
    expect(w.rowWeights).to.equal(false);
    expect(() => w.learn(batch, new Float32Array(4).fill(1))).to.throw(/engine "js"/);
    expect(() => a.learn(batch, new Float32Array(3))).to.throw(/3 weights for 4 rows/);
    for (const x of [a, b, w]) x.dispose();
  });
});

/** The hybrid server alone (learner, no filter) over an in-process bus, fed batches directly. */
async function server(learner: Record<string, unknown>, agent: Record<string, unknown> = {}) {
  const exp = parseExperiment({ run: "opt15", clock: "steps", env: { id: "CartPole-v1" }, agent: { hidden: [8], batchSize: 8, engine: "js", ...agent }, learner: { filter: { name: "none" }, warmup: 16, replayRatio: 0, ...learner } });
  const replay = new MemoryReplay(1000, 4, 1);
  const topo = await assemble(exp, { bus: new InProcessBus(), clock: new StepClock(), metrics: () => new MemoryMetrics(), log: () => {}, replay: async () => replay }, { actors: [], server: true });
  const s = topo.server!;
  let seq = 0;
  const feed = (n: number) => s.link.onTransitions("actor-0", encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: seq++, ts: 1, batch: scaled(rows(n, 0), 0.01) }), s.learner!.onBatch);
  return { exp, topo, learner: s.learner!, feed };
}

/** CartPole-plausible magnitudes (the learner's bounds refuse obs beyond 2× the declared space). */
function scaled(b: TransitionBatch, f: number): TransitionBatch {
  for (let i = 0; i < b.obs.length; i++) (b.obs[i] *= f), (b.nextObs[i] *= f);
  return b;
}

describe("learner sample:insert rate limiter", () => {
  it("max bounds updates per inserted transition (withheld updates counted)", async () => {
    const { topo, learner, feed } = await server({ updatesPerTick: 50, rateLimit: { max: 0.1 } });
    await feed(16);
    await learner.tick(); // training starts: the ratio counts from here (0 fresh rows: 0 updates)
    expect((await learner.stats()).updates).to.equal(0);
    for (let k = 0; k < 5; k++) {
      await feed(40);
      await learner.tick();
    }
    const st = await learner.stats();
    expect(st.updates).to.equal(20); // 0.1 × 200 transitions since training began
    expect(st.rateLimit).to.deep.include({ blocked: 6 * 50 - 20, forced: 0 }); // 6 ticks of 50 wanted
    expect(st.rateLimit!.ratio).to.be.closeTo(0.1, 1e-9);
    topo.dispose();
  });

  it("min makes a lagging learner catch up, at most 10× updatesPerTick per tick (the rest counted behind)", async () => {
    const { topo, learner, feed } = await server({ updatesPerTick: 2, rateLimit: { min: 0.5 } });
    await feed(16);
    await learner.tick();
    await feed(20);
    await learner.tick(); // 0.5 × 20 = 10 owed, 2 made: 8 more, 6 of them beyond the tick's own 2
    let st = await learner.stats();
    expect(st.updates).to.equal(10);
    expect(st.rateLimit).to.deep.include({ forced: 6, behind: 0 });
    await feed(100);
    await learner.tick(); // 0.5 × 120 − 10 = 50 owed, capped at 20 this tick
    st = await learner.stats();
    expect(st.updates).to.equal(30);
    expect(st.rateLimit).to.deep.include({ forced: 24, behind: 30 });
    topo.dispose();
  });

  it("with insertSlack, batches wait (Backpressure → RETRY) while the learner owes more than the slack", async () => {
    const { topo, learner, feed } = await server({ updatesPerTick: 2, rateLimit: { min: 0.5, insertSlack: 10 } });
    await feed(16);
    await learner.tick(); // training starts (its own 2 updates: min only ever adds)
    expect(await feed(100)).to.equal(true); // nothing owed when it arrived: stored
    let err: unknown = null;
    await feed(10).catch((e) => (err = e)); // owed ⌈0.5 × 100⌉ − 2 = 48 > 10: held back, not stored
    expect(err).to.be.instanceOf(Backpressure);
    let st = await learner.stats();
    expect(st.accepted).to.equal(116);
    expect(st.rateLimit).to.deep.include({ insertsHeld: 1 });
    await learner.tick(); // 20 updates (the cap, 10 × 2): still owes 28
    await feed(10).catch((e) => (err = e));
    expect((await learner.stats()).rateLimit).to.deep.include({ insertsHeld: 2 });
    await learner.tick(); // 20 more: owes 8, within the slack
    expect(await feed(10)).to.equal(true);
    st = await learner.stats();
    expect(st.accepted).to.equal(126);
    expect(st.rateLimit).to.deep.include({ insertsHeld: 2, behind: 28 + 8 });
    topo.dispose();
  });

  it("the link answers RETRY to a handler's Backpressure and counts no rejection", async () => {
    const bus = new InProcessBus();
    const s = subjectsFor("bp-test");
    const rejected = new RejectionCounter();
    const link = new BusServerLink(bus, s, { obsDim: 4, actionCount: 2, layout: makeLayout([{ name: "w", shape: [2] }]), maxMessageBytes: 1 << 20, rejected });
    let held = true;
    await link.start(async () => { if (held) throw new Backpressure("behind"); return true; }, () => {});
    const send = async (seq: number) => (await bus.request(s.transitions("actor-0"), encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq, ts: 1, batch: allocBatch(3, 4) }), { timeoutMs: 2000 }))[0];
    expect(await send(0)).to.equal(TRANSITION_REPLY.RETRY);
    held = false;
    expect(await send(0)).to.equal(TRANSITION_REPLY.ACK); // the resend of the same batch is stored
    expect(rejected.snapshot().byReason).to.deep.equal({});
    await link.close();
    await bus.close();
  });

  it("refuses min above max", () => {
    expect(() => parseExperiment({ learner: { rateLimit: { min: 1, max: 0.5 } } })).to.throw(ConfigError, /rateLimit.min/);
  });
});

describe("learner with prioritized replay", () => {
  it("draws by priority, updates priorities from TD errors, applies importance weights on engine js", async () => {
    const { topo, learner, feed } = await server({ updatesPerTick: 5, prioritized: { enabled: true } });
    await feed(40);
    await learner.tick();
    await learner.tick();
    const st = await learner.stats();
    expect(st.updates).to.equal(10);
    expect(st.prioritized).to.deep.include({ draws: 10, prioritiesUpdated: 80, importanceWeights: true });
    expect(st.prioritized!.beta).to.be.greaterThan(0.4);
    topo.dispose();
  });

  it("is refused with ingest workers (their inserts bypass the learner's sum-tree)", () => {
    expect(() => parseExperiment({ learner: { prioritized: { enabled: true }, ingest: { workers: 2 } } })).to.throw(ConfigError, /ingest itself/);
  });
});

describe("diversity filter: scale-free θ and target accept rate", () => {
  const states = (n: number, scale: number[], seed: number) => {
    const r = new Random(seed);
    const b = allocBatch(n, scale.length);
    for (let i = 0; i < n; i++) for (let c = 0; c < scale.length; c++) b.obs[i * scale.length + c] = (r.next() - 0.5) * scale[c]!;
    return b;
  };

  it("standardize: the same decisions whatever the units of each dimension", () => {
    const unit = states(3000, [1, 1, 1], 5);
    const wide = allocBatch(3000, 3);
    const f = [1000, 0.001, 7];
    for (let i = 0; i < unit.obs.length; i++) wide.obs[i] = unit.obs[i]! * f[i % 3]!;
    const cfg = { k: 16, theta: 2.4, reservoir: 256, replayCapacity: 3000, standardize: true };
    const a = new DiversityFilter(3, cfg, 9), b = new DiversityFilter(3, cfg, 9);
    const ka = a.keep(unit), kb = b.keep(wide);
    let same = 0;
    for (let i = 0; i < ka.length; i++) if (ka[i] === kb[i]) same++;
    expect(same / ka.length).to.be.greaterThan(0.99); // float rounding of the scales may flip a borderline row
    expect(a.acceptRate).to.be.within(0.05, 0.95); // θ = 2.4 standard deviations binds
    // Raw distances on the wide states: θ = 2.4 is nothing against the 1000-unit dimension.
    const raw = new DiversityFilter(3, { ...cfg, standardize: false }, 9);
    raw.keep(wide);
    expect(raw.acceptRate).to.equal(1);
  });

  it("acceptRate: θ follows the quantile of recent distances so about that fraction is kept", () => {
    const f = new DiversityFilter(4, { k: 16, theta: 0.15, reservoir: 512, replayCapacity: 10_000, acceptRate: 0.7 }, 3);
    f.keep(states(2000, [1, 2, 3, 4], 1));
    const before = { a: f.accepted, r: f.rejected };
    f.keep(states(4000, [1, 2, 3, 4], 2));
    const rate = (f.accepted - before.a) / (f.accepted - before.a + f.rejected - before.r);
    expect(rate).to.be.closeTo(0.7, 0.05);
    expect(f.stats().theta).to.be.greaterThan(0.15);
    // The snapshot carries θ and the distance window: a restored filter decides alike.
    const g = new DiversityFilter(4, f.config, 3);
    g.restore(f.snapshot());
    const next = states(300, [1, 2, 3, 4], 4);
    expect(Array.from(g.keep(next))).to.deep.equal(Array.from(f.keep(next)));
  });
});

describe("per-actor exploration and adoption schedule", () => {
  it("Ape-X ε_i = base^(1 + α·i/(N−1)) per actor index, constant or reached over decaySteps", () => {
    expect(apexEpsilon(0, 3, 0.4, 7)).to.be.closeTo(0.4, 1e-12);
    expect(apexEpsilon(1, 3, 0.4, 7)).to.be.closeTo(Math.pow(0.4, 4.5), 1e-12);
    expect(apexEpsilon(2, 3, 0.4, 7)).to.be.closeTo(Math.pow(0.4, 8), 1e-12);
    expect(apexEpsilon(0, 1, 0.4, 7)).to.equal(0.4);
    const exp = parseExperiment({ env: { id: "CartPole-v1" }, actors: { count: 3, exploration: { kind: "apex", base: 0.5, alpha: 2 } } });
    const { builder, actorConfig } = algorithmOf(exp, envSpace(exp));
    const eps = [0, 1, 2].map((i) => actorAgentConfig(exp, builder, i, actorConfig) as DqnConfig);
    expect(eps.map((c) => c.epsilonStart)).to.deep.equal([0.5, 0.25, 0.125]);
    expect(eps.map((c) => c.epsilonEnd)).to.deep.equal([0.5, 0.25, 0.125]);
    const decaying = parseExperiment({ env: { id: "CartPole-v1" }, actors: { count: 3, exploration: { kind: "apex", base: 0.5, alpha: 2, decaySteps: 5000 } } });
    const d = actorAgentConfig(decaying, builder, 2, actorConfig) as DqnConfig;
    expect(d).to.deep.include({ epsilonSchedule: "linear", epsilonStart: 1, epsilonEnd: 0.125, epsilonDecaySteps: 5000 });
    // The default leaves every actor on the agent's own schedule (the same parsed object).
    const plain = parseExperiment({ env: { id: "CartPole-v1" } });
    expect(actorAgentConfig(plain, builder, 1, actorConfig)).to.equal(actorConfig);
  });

  it("β schedule: blendBeta → blendBetaEnd over blendSteps; none when fixed or replacing", () => {
    const f = blendSchedule(parseExperiment({ actors: { merge: "blend", blendBeta: 0.2, blendBetaEnd: 1, blendSteps: 1000 } }))!;
    [0.2, 0.6, 1, 1].forEach((b, i) => expect(f([0, 500, 1000, 5000][i]!)).to.be.closeTo(b, 1e-12));
    expect(blendSchedule(parseExperiment({ actors: { merge: "blend", blendBeta: 0.2 } }))).to.equal(undefined);
    expect(blendSchedule(parseExperiment({ actors: { merge: "replace", blendBetaEnd: 1, blendSteps: 10 } }))).to.equal(undefined);
  });
});

describe("n-step rows shipped to the hybrid learner (actors.shipNStep)", () => {
  it("an actor ships rows of Σγᵏr over n steps, contiguous per env copy, shortened only at episode ends", async () => {
    const sent: TransitionBatch[] = [];
    const uplink: Uplink = {
      sendTransitions: (b) => void sent.push(b), sendWeights: () => {}, drain: async () => 0, close: async () => {},
      stats: () => ({ batchesSent: sent.length, bytesSent: 0, weightsSent: 0, delivery: null }),
    };
    const downlink: Downlink = { subscribe: async () => {}, rejected: new RejectionCounter(), close: async () => {} };
    const exp = parseExperiment({ env: { id: "CartPole-v1", numEnvs: 2 } });
    const agent = new DqnAgent({ obsDim: 4, numActions: 2, config: { hidden: [8], engine: "js" } });
    const g = 0.9;
    const actor = new Actor({
      id: "actor-0", agent, envs: makeActorEnvs(exp, 0), clock: new StepClock(), metrics: new MemoryMetrics(), seed: 5,
      config: { batchSteps: 40, batchMs: Infinity },
      federation: { uplink, downlink, shipTransitions: true, weightsEvery: { ms: 1e9, steps: 1e9 }, beta: 1, shipped: "online", followers: [], nStep: { n: 3, gamma: g } },
    });
    actor.stepMany(200);
    actor.flushTransitions();
    const rewards = sent.flatMap((b) => Array.from(b.rewards));
    const full = 1 + g + g * g;
    expect(rewards.length).to.be.within(2 * 200 - 2 * 2, 2 * 200); // all but the ≤ n−1 pending steps per copy
    for (const r of rewards) expect([1, 1 + g, full].some((x) => Math.abs(r - x) < 1e-5), String(r)).to.equal(true);
    // Shortened rows (tails) only end episodes: each ends with a done row.
    const done = sent.flatMap((b) => Array.from(b.terminated, (t, i) => t || b.truncated[i]));
    rewards.forEach((r, i) => {
      if (Math.abs(r - full) > 1e-5) expect(done[i], `row ${i}`).to.equal(1);
    });
    expect(rewards.filter((r) => Math.abs(r - full) < 1e-5).length).to.be.greaterThan(rewards.length / 2);
    agent.dispose();
  });

  it("the learner keeps nStep (γⁿ bootstrap) and an embedded run learns from the shipped rows within the widened reward bound", async () => {
    const base = { run: "nstep15", mode: "hybrid", clock: "steps", seed: 1, env: { id: "CartPole-v1" }, agent: { hidden: [16], engine: "js", nStep: 3, learningStarts: 200, epsilonSchedule: "linear", epsilonDecaySteps: 500 }, actors: { count: 2, batchSteps: 50, weights: { steps: 400 } }, learner: { tick: { steps: 50 }, warmup: 200, publish: { steps: 400 }, filter: { name: "none" } }, aggregator: { interval: { steps: 800 } }, budget: { stepsPerActor: 1200 }, eval: { episodes: 1 } };
    const off = parseExperiment(base);
    expect((algorithmOf(off, envSpace(off)).learnerConfig as DqnConfig).nStep).to.equal(1);
    const on = parseExperiment({ ...base, actors: { ...base.actors, shipNStep: true } });
    expect((algorithmOf(on, envSpace(on)).learnerConfig as DqnConfig).nStep).to.equal(3);
    // Double DQN reaches the learner through agent.algorithm (only nStep is reset for 1-step rows).
    const dbl = parseExperiment({ ...base, agent: { ...base.agent, algorithm: "double" } });
    expect((algorithmOf(dbl, envSpace(dbl)).learnerConfig as DqnConfig)).to.deep.include({ algorithm: "double", nStep: 1 });
    const s = await runEmbedded(on, { writeMetrics: false, chunk: 10 });
    expect(s.learner!.accepted).to.be.greaterThan(2000);
    expect(s.learner!.updates).to.be.greaterThan(0);
    expect(s.learner!.rejected.total).to.equal(0); // CartPole's reward bound (1 × slack 2) widened to the 3-step sum
  });
});
