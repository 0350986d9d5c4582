import { expect } from "chai";
import { WeightsStore, type WeightGroups, type WeightsHolder } from "../../core/agent";
import { StepClock } from "../../core/clock";
import { RejectionCounter } from "../../core/errors";
import type { WeightsUpload } from "../../core/links";
import { MemoryMetrics } from "../../core/metrics";
import { makeLayout, type ParamLayout } from "../../core/params";
import type { Aggregator } from "../../federation/aggregator";
import { MeanRule } from "../../federation/mean";
import { TrustRule } from "../../federation/trust";
import { AggregationNode, type AggregationConfig } from "../../nodes/aggregation";
import { GlobalState } from "../../nodes/global";

const f = (...xs: number[]) => Float32Array.from(xs);
const layout = makeLayout([{ name: "w", shape: [3] }]);
const upload = (params: Float32Array, samples = 10, lay: ParamLayout = layout): WeightsUpload => ({ version: 0, samples, layout: lay, params });
const arr = (a: Float32Array | undefined) => Array.from(a!);

/** A holder with an online and a target group (a DQN-like learner's weights). */
class TwoGroups implements WeightsHolder {
  groups: WeightGroups;
  constructor(online: Float32Array, target: Float32Array) {
    this.groups = { online: online.slice(), target: target.slice() };
  }
  layout(): ParamLayout {
    return layout;
  }
  weights(): WeightGroups {
    return Object.fromEntries(Object.entries(this.groups).map(([k, v]) => [k, v.slice()]));
  }
  setWeights(w: WeightGroups): void {
    for (const [k, v] of Object.entries(w)) if (this.groups[k]) this.groups[k]!.set(v);
  }
}

function setup(opts: { config?: Partial<AggregationConfig>; rule?: Aggregator; holder?: WeightsHolder; init?: Float32Array } = {}) {
  const holder = opts.holder ?? new WeightsStore(layout, "online", opts.init ?? f(1, 0, 0));
  const global = new GlobalState(holder, "online");
  const clock = new StepClock();
  const metrics = new MemoryMetrics();
  const rejected = new RejectionCounter();
  const logs: string[] = [];
  let changes = 0;
  const config: AggregationConfig = {
    interval: { ms: 1000, steps: 10 },
    alpha: 0.5,
    staleAfter: { ms: 5000, steps: 50 },
    forgetAfterRound: false,
    mergeFollowers: true,
    followers: ["target"],
    ...opts.config,
  };
  const node = new AggregationNode({
    rule: opts.rule ?? new MeanRule(),
    global,
    clock,
    metrics,
    rejected,
    config,
    onChange: async () => { changes++; },
    log: (l) => logs.push(l),
  });
  return { node, global, holder, clock, metrics, rejected, logs, changes: () => changes };
}

describe("aggregation node", () => {
  it("applies θ ← α·θ + (1−α)·mix exactly to the shipped group", async () => {
    // mean of (2,4,0) and (0,0,6) = (1,2,3); α = 0.25: 0.25·(1,0,0) + 0.75·(1,2,3) = (1, 1.5, 2.25)
    const s = setup({ config: { alpha: 0.25 } });
    expect(s.node.offer("a", upload(f(2, 4, 0)))).to.equal(true);
    expect(s.node.offer("b", upload(f(0, 0, 6)))).to.equal(true);
    const r = await s.node.aggregate();
    expect(arr(s.global.params())).to.deep.equal([1, 1.5, 2.25]);
    expect(r).to.deep.include({ round: 1, changed: true });
    expect(r.deltaNorm).to.be.closeTo(Math.hypot(0, 1.5, 2.25), 1e-9);
    expect(r.clients.map((c) => [c.actor, c.weight, c.used, c.staleness])).to.deep.equal([["a", 0.5, true, 0], ["b", 0.5, true, 0]]);
    expect(s.global.version).to.equal(1);
    const [ev] = s.metrics.of("aggregation");
    expect(ev).to.deep.include({ round: 1, rule: "mean", changed: true, reason: null, version: 1 });
    // WeightsStore has no "target" group: the follower is skipped, not an error.
    expect(Object.keys(s.holder.weights())).to.deep.equal(["online"]);
  });

  it("with the trust rule, blends the cosine-weighted mix (α = 0.5)", async () => {
    // g = (1,0,0); a = (2,0,0) cos 1, b = (1,1,0) cos 1/√2 → mix = (3−√2, √2−1, 0)
    // θ = 0.5·(1,0,0) + 0.5·mix = ((4−√2)/2, (√2−1)/2, 0)
    const s = setup({ rule: new TrustRule() });
    s.node.offer("a", upload(f(2, 0, 0)));
    s.node.offer("b", upload(f(1, 1, 0)));
    await s.node.aggregate();
    const g = s.global.params();
    expect(g[0]).to.be.closeTo((4 - Math.SQRT2) / 2, 1e-6);
    expect(g[1]).to.be.closeTo((Math.SQRT2 - 1) / 2, 1e-6);
    expect(g[2]).to.equal(0);
  });

  it("leaves out uploads older than staleAfter and reports them stale", async () => {
    const s = setup({ config: { alpha: 0 } });
    s.node.offer("old", upload(f(9, 9, 9))); // received at step 0
    await s.clock.advance(50);
    // exactly staleAfter old: still fresh
    let r = await s.node.aggregate();
    expect(r.clients.map((c) => [c.actor, c.used, c.staleness])).to.deep.equal([["old", true, 50]]);
    expect(arr(s.global.params())).to.deep.equal([9, 9, 9]);
    await s.clock.advance(10);
    s.node.offer("fresh", upload(f(2, 4, 6))); // received at step 60
    r = await s.node.aggregate();
    expect(r.clients[0]).to.deep.include({ actor: "old", weight: 0, used: false, reason: "stale", staleness: 60 });
    expect(r.clients[0]!.score).to.be.NaN;
    expect(r.clients[1]).to.deep.include({ actor: "fresh", weight: 1, used: true, staleness: 0 });
    expect(arr(s.global.params())).to.deep.equal([2, 4, 6]);
    // Only stale clients: no change.
    await s.clock.advance(51);
    r = await s.node.aggregate();
    expect(r).to.deep.include({ changed: false, reason: "no_fresh_clients", round: 3 });
    expect(r.clients.map((c) => [c.actor, c.reason])).to.deep.equal([["old", "stale"], ["fresh", "stale"]]);
    expect(s.global.version).to.equal(2);
  });

  it("forgetAfterRound: a second round without new uploads changes nothing and keeps the version", async () => {
    const s = setup({ config: { alpha: 0, forgetAfterRound: true } });
    s.node.offer("a", upload(f(2, 4, 6)));
    let r = await s.node.aggregate();
    expect(r.changed).to.equal(true);
    expect(arr(s.global.params())).to.deep.equal([2, 4, 6]);
    expect([s.global.round, s.global.version]).to.deep.equal([1, 1]);
    r = await s.node.aggregate();
    expect(r).to.deep.include({ round: 2, changed: false, reason: "no_fresh_clients", deltaNorm: 0 });
    expect(r.clients).to.deep.equal([]);
    expect(arr(s.global.params())).to.deep.equal([2, 4, 6]);
    expect([s.global.round, s.global.version]).to.deep.equal([2, 1]);
    expect(s.changes()).to.equal(1);
    expect(s.logs).to.deep.equal(["aggregation round 2: global model unchanged (no_fresh_clients)"]);
    // Without forgetAfterRound the held upload is used again.
    const keep = setup({ config: { alpha: 0.5 } });
    keep.node.offer("a", upload(f(3, 0, 0)));
    await keep.node.aggregate(); // (1+3)/2 = 2
    await keep.node.aggregate(); // (2+3)/2 = 2.5
    expect(arr(keep.global.params())).to.deep.equal([2.5, 0, 0]);
    expect(keep.global.version).to.equal(2);
  });

  it("refuses another layout, a wrong length and non-finite values, counted by reason", async () => {
    const s = setup({ config: { alpha: 0 } });
    const other = makeLayout([{ name: "v", shape: [3] }]);
    expect(s.node.offer("good", upload(f(1, 2, 3)))).to.equal(true);
    expect(s.node.offer("alien", upload(f(1, 2, 3), 10, other))).to.equal(false);
    expect(s.node.offer("short", upload(f(1, 2)))).to.equal(false);
    expect(s.node.offer("nan", upload(f(1, NaN, 3)))).to.equal(false);
    expect(s.node.offer("fine", upload(f(1, 2, 3)))).to.equal(true);
    expect(s.node.offer("fine", upload(f(Infinity, 0, 0)))).to.equal(false); // replaces its held upload: excluded, visibly
    expect(s.rejected.snapshot()).to.deep.equal({
      total: 4,
      byReason: { layout_mismatch: 1, size_mismatch: 1, non_finite: 2 },
      bySource: { alien: 1, short: 1, nan: 1, fine: 1 },
    });
    const r = await s.node.aggregate();
    // Malformed uploads are dropped; implausible ones are listed as refused, with the reason.
    expect(r.clients.map((c) => [c.actor, c.used, c.weight, c.reason ?? null])).to.deep.equal([["nan", false, 0, "non_finite"], ["fine", false, 0, "non_finite"], ["good", true, 1, null]]);
    expect(arr(s.global.params())).to.deep.equal([1, 2, 3]);
  });

  it("counts every round, bumps the version and calls onChange only on a change", async () => {
    const s = setup({ rule: new TrustRule() });
    let r = await s.node.aggregate(); // nobody yet
    expect(r).to.deep.include({ round: 1, changed: false, reason: "no_fresh_clients" });
    expect([s.global.round, s.global.version, s.changes()]).to.deep.equal([1, 0, 0]);
    s.node.offer("a", upload(f(3, 0, 0)));
    r = await s.node.aggregate(); // 0.5·(1,0,0) + 0.5·(3,0,0) = (2,0,0)
    expect(r.changed).to.equal(true);
    expect(arr(s.global.params())).to.deep.equal([2, 0, 0]);
    expect([s.global.round, s.global.version, s.changes()]).to.deep.equal([2, 1, 1]);
    s.node.offer("a", upload(f(-1, 0, 0))); // cos −1: trust gives no mix
    r = await s.node.aggregate();
    expect(r).to.deep.include({ round: 3, changed: false, reason: "no_positive_similarity" });
    expect(arr(s.global.params())).to.deep.equal([2, 0, 0]);
    expect([s.global.round, s.global.version, s.changes()]).to.deep.equal([3, 1, 1]);
    expect(s.metrics.of("aggregation").map((e) => [e.round, e.changed, e.version])).to.deep.equal([[1, false, 0], [2, true, 1], [3, false, 1]]);
    expect(s.node.lastRound).to.equal(r);
  });

  it("blends the follower group with the same α and mix", async () => {
    // mix = (3,2,0), α = 0.5: online (1,0,0) → (2,1,0); target (0,0,2) → (1.5,1,1)
    const holder = new TwoGroups(f(1, 0, 0), f(0, 0, 2));
    const s = setup({ holder });
    s.node.offer("a", upload(f(3, 2, 0)));
    await s.node.aggregate();
    expect(arr(holder.groups.online)).to.deep.equal([2, 1, 0]);
    expect(arr(holder.groups.target)).to.deep.equal([1.5, 1, 1]);
  });

  it("leaves the follower group untouched when mergeFollowers is false", async () => {
    const holder = new TwoGroups(f(1, 0, 0), f(0, 0, 2));
    const s = setup({ holder, config: { mergeFollowers: false } });
    s.node.offer("a", upload(f(3, 2, 0)));
    await s.node.aggregate();
    expect(arr(holder.groups.online)).to.deep.equal([2, 1, 0]);
    expect(arr(holder.groups.target)).to.deep.equal([0, 0, 2]);
  });

  it("on the step clock, start() flushes pending uploads then runs a round every interval", async () => {
    const holder = new WeightsStore(layout, "online", f(1, 0, 0));
    const global = new GlobalState(holder, "online");
    const clock = new StepClock();
    let node!: AggregationNode;
    const flushed: number[] = [];
    node = new AggregationNode({
      rule: new MeanRule(), global, clock, metrics: new MemoryMetrics(), rejected: new RejectionCounter(),
      config: { interval: { ms: 1000, steps: 10 }, alpha: 0, staleAfter: { ms: 1, steps: 100 }, forgetAfterRound: true, mergeFollowers: false, followers: [] },
      flush: async () => { flushed.push(clock.now()); node.offer("a", upload(f(clock.now(), 0, 0))); },
    });
    node.start();
    await clock.advance(9);
    expect(global.round).to.equal(0);
    await clock.advance(1);
    expect([global.round, global.version]).to.deep.equal([1, 1]);
    expect(arr(global.params())).to.deep.equal([10, 0, 0]);
    await clock.advance(20);
    expect(flushed).to.deep.equal([10, 30, 30]);
    expect(global.round).to.equal(3);
    node.stop();
    await clock.advance(10);
    expect(global.round).to.equal(3);
  });
});

describe("aggregation node: bounds and the server's reference update", () => {
  const bounds = { normRatio: 3, deltaRatio: 2, growth: 1.5 };

  it("refuses weights beyond the norm and update bounds, counted by reason and actor, shown in the round", async () => {
    // global (3,4,0): ‖θ_g‖ = 5, so ‖θ_k‖ ≤ 3·5 = 15 and ‖θ_k − θ_g‖ ≤ 2·5 = 10.
    const s = setup({ config: { alpha: 0, bounds }, init: f(3, 4, 0) });
    expect(s.node.offer("ok", upload(f(3, 4, 1)))).to.equal(true); // ‖θ‖ √26, ‖Δ‖ 1
    expect(s.node.offer("huge", upload(f(1e30, 0, 0)))).to.equal(false); // finite, and still poison: ‖θ‖ 1e30
    expect(s.node.offer("scaled", upload(f(12, 16, 0)))).to.equal(false); // ‖θ‖ 20 > 15
    expect(s.node.offer("far", upload(f(-6, -8, 0)))).to.equal(false); // ‖θ‖ 10 ≤ 15, but ‖Δ‖ = ‖(−9,−12,0)‖ = 15 > 10
    expect(s.node.offer("edge", upload(f(-3, -4, 0)))).to.equal(true); // ‖Δ‖ = 10 ≤ 10: bounds pass it, the rule judges it
    expect(s.rejected.snapshot()).to.deep.equal({ total: 3, byReason: { norm_bound: 2, delta_bound: 1 }, bySource: { huge: 1, scaled: 1, far: 1 } });
    const r = await s.node.aggregate();
    expect(r.clients.map((c) => [c.actor, c.used, c.reason ?? null])).to.deep.equal([["huge", false, "norm_bound"], ["scaled", false, "norm_bound"], ["far", false, "delta_bound"], ["ok", true, null], ["edge", true, null]]);
    // mean of (3,4,1) and (−3,−4,0) = (0,0,0.5); α = 0.
    expect(arr(s.global.params())).to.deep.equal([0, 0, 0.5]);
  });

  it("refuses a round whose result would be non-finite or explode; the global model stays as it was", async () => {
    const fixed = (mix: Float32Array): Aggregator => ({ name: "fixed", aggregate: (_g, u) => ({ mix, verdicts: u.map((x) => ({ actor: x.actor, weight: 1, used: true, score: 0 })) }) });
    // growth 1.5 on ‖θ_g‖ = 5: a result of norm 10 is refused (exploding); without bounds a NaN mix is still refused.
    const s = setup({ config: { alpha: 0, bounds }, init: f(3, 4, 0), rule: fixed(f(6, 8, 0)) });
    s.node.offer("a", upload(f(3, 4, 0)));
    let r = await s.node.aggregate();
    expect(r).to.deep.include({ changed: false, reason: "exploding_result" });
    expect([arr(s.global.params()), s.global.version, s.changes()]).to.deep.equal([[3, 4, 0], 0, 0]);
    const t = setup({ config: { alpha: 0.5 }, init: f(3, 4, 0), rule: fixed(f(NaN, 0, 0)) });
    t.node.offer("a", upload(f(3, 4, 0)));
    r = await t.node.aggregate();
    expect(r).to.deep.include({ changed: false, reason: "non_finite_result" });
    expect(arr(t.global.params())).to.deep.equal([3, 4, 0]);
    expect(t.rejected.snapshot().byReason).to.deep.equal({ non_finite_result: 1 });
    expect(t.node.refusedRounds).to.equal(1);
  });

  it("hands the rule the server's own update since the last round as the reference", async () => {
    const seen: (number[] | null)[] = [];
    const rule: Aggregator = { name: "spy", aggregate: (g, u, ctx) => (seen.push(ctx?.reference ? Array.from(ctx.reference) : null), { mix: g.slice(), verdicts: u.map((x) => ({ actor: x.actor, weight: 1, used: true, score: 0 })) }) };
    const s = setup({ config: { alpha: 0, reference: "server" }, init: f(1, 1, 1), rule });
    s.node.offer("a", upload(f(1, 1, 1)));
    await s.node.aggregate(); // the server has not moved: no reference
    s.holder.setWeights({ online: f(1.5, 1, 0) }); // the learner trains between rounds
    await s.node.aggregate();
    expect(seen).to.deep.equal([null, [0.5, 0, -1]]);
    const m = setup({ config: { alpha: 0 }, init: f(1, 1, 1), rule }); // default "median": no reference handed over
    m.node.offer("a", upload(f(1, 1, 1)));
    m.holder.setWeights({ online: f(2, 2, 2) });
    await m.node.aggregate();
    expect(seen.at(-1)).to.equal(null);
  });

  it("rebases a client's update onto the current global model from the published version it merged", async () => {
    const spy: Float32Array[][] = [];
    const rule: Aggregator = { name: "spy", aggregate: (g, u) => (spy.push(u.map((x) => x.params)), { mix: g.slice(), verdicts: u.map((x) => ({ actor: x.actor, weight: 1, used: true, score: 0 })) }) };
    const s = setup({ config: { alpha: 0, rebase: true }, init: f(1, 1, 1), rule });
    s.node.rememberBase(7, f(1, 1, 1)); // version 7 published as (1,1,1)
    s.holder.setWeights({ online: f(2, 1, 1) }); // the learner moved on
    s.node.offer("a", { version: 7, samples: 1, layout, params: f(1, 1, 3) }); // its own progress: (0,0,2)
    s.node.offer("b", { version: 99, samples: 1, layout, params: f(5, 5, 5) }); // unknown base: used as sent
    await s.node.aggregate();
    expect(spy[0]!.map((p) => Array.from(p))).to.deep.equal([[2, 1, 3], [5, 5, 5]]);
  });
});

describe("aggregation node: claimed sample counts", () => {
  it("caps each claim at twice the median claim, so one client claiming 1e12 samples cannot own FedAvg", async () => {
    const spy: number[][] = [];
    const rule: Aggregator = { name: "spy", aggregate: (g, u) => (spy.push(u.map((x) => x.samples)), { mix: g.slice(), verdicts: u.map((x) => ({ actor: x.actor, weight: 1, used: true, score: 0 })) }) };
    const s = setup({ config: { alpha: 0 }, rule });
    s.node.offer("a", upload(f(1, 0, 0), 100));
    s.node.offer("b", upload(f(1, 0, 0), 120));
    s.node.offer("c", upload(f(1, 0, 0), 1e12));
    await s.node.aggregate();
    expect(spy[0]).to.deep.equal([100, 120, 240]); // median 120 → cap 240
  });
});

describe("aggregation node: verified sample counts", () => {
  it("uses the rows the server received from a client instead of its claim, where it knows them", async () => {
    const spy: number[][] = [];
    const rule: Aggregator = { name: "spy", aggregate: (g, u) => (spy.push(u.map((x) => x.samples)), { mix: g.slice(), verdicts: u.map((x) => ({ actor: x.actor, weight: 1, used: true, score: 0 })) }) };
    const received: Record<string, number> = { a: 90, b: 110 };
    const s = setup({ config: { alpha: 0 }, rule });
    (s.node as unknown as { d: { verifiedSamples: (a: string) => number | undefined } }).d.verifiedSamples = (a) => received[a];
    s.node.offer("a", upload(f(1, 0, 0), 100));
    s.node.offer("b", upload(f(1, 0, 0), 1e9)); // claims a billion, sent 110 rows
    s.node.offer("c", upload(f(1, 0, 0), 120)); // unknown to the server: its claim, capped at 2 × median (median of 90, 110, 120 = 110)
    await s.node.aggregate();
    expect(spy[0]).to.deep.equal([90, 110, 120]);
  });
});
