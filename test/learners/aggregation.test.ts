import { expect } from "chai";
import { TrustAggregator, fedAvg, cosine, type ClientParams } from "../../learners/aggregation";

const f = (...xs: number[]) => Float32Array.from(xs);
const client = (actor: string, params: Float32Array, receivedAt = 100, samples = 10, layoutHash = "h"): ClientParams => ({ actor, params, samples, receivedAt, layoutHash });
const close = (a: Float32Array, b: number[]) => a.forEach((v, i) => expect(v).to.be.closeTo(b[i]!, 1e-6));

describe("trust-aware aggregator", () => {
  const cfg = { alpha: 0.5, weighting: "trust" as const, staleAfter: 50 };

  it("weights clients by positive cosine similarity and blends with alpha", () => {
    const agg = new TrustAggregator("h", 2, cfg);
    const g = f(1, 0);
    agg.offer(client("a", f(2, 0))); // cos 1
    agg.offer(client("b", f(1, 1))); // cos 1/√2
    const r = agg.aggregate(g, 120);
    const sa = 1, sb = Math.SQRT1_2, tot = sa + sb;
    expect(r.changed).to.equal(true);
    const wa = r.clients.find((c) => c.actor === "a")!.weight;
    const wb = r.clients.find((c) => c.actor === "b")!.weight;
    expect(wa).to.be.closeTo(sa / tot, 1e-9);
    expect(wb).to.be.closeTo(sb / tot, 1e-9);
    // θ = 0.5·(1,0) + 0.5·(wa·(2,0) + wb·(1,1))
    close(r.params, [0.5 + 0.5 * (2 * wa + wb), 0.5 * wb]);
    expect(r.deltaNorm).to.be.closeTo(Math.hypot(r.params[0]! - 1, r.params[1]!), 1e-6);
  });

  it("gives a negatively aligned client weight 0", () => {
    const agg = new TrustAggregator("h", 2, cfg);
    agg.offer(client("good", f(1, 0.5)));
    agg.offer(client("evil", f(-3, -1)));
    const r = agg.aggregate(f(1, 0), 100);
    const evil = r.clients.find((c) => c.actor === "evil")!;
    expect(evil.weight).to.equal(0);
    expect(evil.used).to.equal(false);
    expect(evil.reason).to.equal("negative");
    close(r.params, [0.5 + 0.5 * 1, 0.5 * 0.5]);
  });

  it("leaves the global model unchanged when every similarity is <= 0", () => {
    const agg = new TrustAggregator("h", 2, cfg);
    agg.offer(client("x", f(-1, 0)));
    agg.offer(client("y", f(0, 1))); // orthogonal: cos 0
    const g = f(1, 0);
    const r = agg.aggregate(g, 100);
    expect(r.changed).to.equal(false);
    expect(r.reason).to.equal("no_positive_similarity");
    expect(r.params).to.equal(g);
    expect(r.deltaNorm).to.equal(0);
  });

  it("ignores stale clients and refuses other layouts, lengths and NaN", () => {
    const agg = new TrustAggregator("h", 2, cfg);
    expect(agg.offer(client("old", f(5, 5), 10)).ok).to.equal(true);
    expect(agg.offer(client("alien", f(1, 0), 100, 1, "other"))).to.deep.equal({ ok: false, reason: "layout_mismatch" });
    expect(agg.offer(client("short", f(1), 100))).to.deep.equal({ ok: false, reason: "size_mismatch" });
    expect(agg.offer(client("nan", f(NaN, 1), 100))).to.deep.equal({ ok: false, reason: "non_finite" });
    expect(agg.refused).to.equal(3);
    let r = agg.aggregate(f(1, 0), 100); // old is 90 units old > 50
    expect(r.changed).to.equal(false);
    expect(r.reason).to.equal("no_fresh_clients");
    expect(r.clients[0]).to.include({ actor: "old", used: false, reason: "stale" });
    agg.offer(client("fresh", f(3, 0), 100));
    r = agg.aggregate(f(1, 0), 100);
    close(r.params, [0.5 + 0.5 * 3, 0]);
  });

  it("uniform weighting (ablation) averages every fresh client", () => {
    const agg = new TrustAggregator("h", 2, { ...cfg, weighting: "uniform", alpha: 0 });
    agg.offer(client("a", f(2, 0)));
    agg.offer(client("b", f(-2, 4)));
    close(agg.aggregate(f(1, 0), 100).params, [0, 2]);
  });

  it("cosine of zero vectors is 0", () => {
    expect(cosine(f(0, 0), f(1, 1))).to.equal(0);
  });
});

describe("FedAvg", () => {
  it("equals the sample-weighted mean", () => {
    const p = fedAvg([client("a", f(1, 2), 0, 1), client("b", f(3, 6), 0, 3)]);
    close(p, [(1 * 1 + 3 * 3) / 4, (2 + 18) / 4]);
  });
  it("falls back to the plain mean when no samples are reported, and rejects size mismatch", () => {
    close(fedAvg([client("a", f(1, 2), 0, 0), client("b", f(3, 6), 0, 0)]), [2, 4]);
    expect(() => fedAvg([client("a", f(1, 2)), client("b", f(1))])).to.throw(/params/);
    expect(() => fedAvg([])).to.throw();
  });
});
