import { expect } from "chai";
import { DEFAULT_GATE, TrustGate, trimmedMean } from "../../federation/trust-gate";

const v = (actor: string, weight: number, used = weight > 0, reason?: string) => ({ actor, weight, used, score: 0, reason });

describe("trust-gated replay: the gate", () => {
  const settings = { below: 0.5, rate: 0.5, tdRate: 0.5, tdRatio: 3, rewardZ: 6, quota: 3, quotaFloor: 100 };

  it("folds trust weights in by EMA (uniform = 1) and gates a client once its trust drops below the threshold", () => {
    const g = new TrustGate(settings);
    // K = 4: a, b, c get 1/3 each → min(1, 4/3) = 1; evil gets 0 → 1 + 0.5·(0 − 1) = 0.5, then 0.25.
    g.onRound([v("a", 1 / 3), v("b", 1 / 3), v("c", 1 / 3), v("evil", 0, false, "not_aligned")], true);
    expect(g.trust("evil")).to.equal(0.5);
    expect(g.admit("evil", 10)).to.equal("ok"); // 0.5 is not below 0.5
    g.onRound([v("a", 1 / 3), v("b", 1 / 3), v("c", 1 / 3), v("evil", 0, false, "not_aligned")], true);
    expect(g.trust("evil")).to.equal(0.25);
    expect(g.admit("evil", 10)).to.equal("distrusted");
    expect(g.trust("a")).to.equal(1);
    expect(g.admit("a", 10)).to.equal("ok");
    // A client weighted 1/(2K) keeps trust ½ per round: 1 → 0.75 → 0.625 …
    const h = new TrustGate(settings);
    h.onRound([v("x", 0.125), v("y", 0.875)], true); // K = 2: min(1, 2·0.125) = 0.25 → 1 + 0.5·(0.25 − 1) = 0.625
    expect(h.trust("x")).to.equal(0.625);
    const snap = g.snapshot();
    expect(snap.evil).to.deep.include({ trust: 0.25, gated: 10, accepted: 0 });
  });

  it("only bounds refusals count for rules whose weights are not trust (median, krum…), and stale clients are not judged", () => {
    const g = new TrustGate(settings);
    g.onRound([v("a", 1), v("b", 0, false, "krum_rejected"), v("c", 0, false, "norm_bound"), v("d", 0, false, "stale")], false);
    expect([g.trust("a"), g.trust("b"), g.trust("c"), g.trust("d")]).to.deep.equal([1, 1, 0.5, 1]);
    // A trust round that used nobody (no positive similarity) lowers nobody's trust.
    g.onRound([v("a", 0, false, "not_aligned"), v("b", 0, false, "not_aligned")], true);
    expect([g.trust("a"), g.trust("b")]).to.deep.equal([1, 1]);
  });

  it("rates data trust by TD error against the median client once three clients have data", () => {
    const g = new TrustGate(settings);
    g.observeTd("a", [1]);
    g.observeTd("b", [1.2]);
    expect(g.trust("b")).to.equal(1); // two clients: no median yet
    g.observeTd("flip", [12]); // median of (1, 1.2, 12) = 1.2: ratio 10 > 3 → data trust 3/10
    expect(g.trust("flip")).to.be.closeTo(0.3, 1e-12);
    expect(g.trust("a")).to.equal(1);
    expect(g.admit("flip", 5)).to.equal("distrusted");
    g.observeTd("flip", [1.2]); // EMA at tdRate 0.5: 12 + 0.5·(1.2 − 12) = 6.6 → ratio 5.5 → 3/5.5
    expect(g.trust("flip")).to.be.closeTo(3 / 5.5, 1e-12);
    g.observeTd("x", [NaN]); // ignored
    g.observeTd("x", [1, Infinity]);
    g.observeTd("x", []);
    expect(g.snapshot().x).to.equal(undefined);
  });

  it("a batch's TD level is the mean without its largest quarter: an honest client's rare failure rows do not count", () => {
    expect(trimmedMean([1, 2, 3, 100])).to.equal(2);
    expect(trimmedMean([5])).to.equal(5);
    expect(trimmedMean([3, 1, 2])).to.equal(2);
    expect(trimmedMean([])).to.be.NaN;
    expect(trimmedMean([1, -Infinity])).to.be.NaN;
    const g = new TrustGate(settings);
    for (const a of ["a", "b"]) g.observeTd(a, Array(16).fill(0.05));
    // Two terminal rows of 8 among 16: the mean would be 1.04, 21× the others; the trimmed level is 0.05.
    g.observeTd("c", [...Array(14).fill(0.05), 8, 8]);
    expect(g.trust("c")).to.equal(1);
  });

  it("with the defaults, honest heavy-tailed batches keep trust while rows that stay far off the others' are gated within a few batches", () => {
    const g = new TrustGate(DEFAULT_GATE);
    // Honest: every client's batch level alternates between 0.03 and 0.6 (20×), out of phase.
    for (let i = 0; i < 60; i++) {
      g.observeTd("a", [i % 3 === 0 ? 0.6 : 0.03]);
      g.observeTd("b", [i % 3 === 1 ? 0.6 : 0.03]);
      g.observeTd("c", [i % 3 === 2 ? 0.6 : 0.03]);
    }
    expect(["a", "b", "c"].map((a) => g.trust(a))).to.deep.equal([1, 1, 1]);
    // A client whose rows are all 12× the others' from its first batch on: gated at once, and it stays gated.
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      for (const a of ["a", "b", "c"]) g.observeTd(a, [0.25]);
      g.observeTd("bad", Array(16).fill(3));
      seen.push(g.trust("bad"));
    }
    expect(seen.every((t) => t < DEFAULT_GATE.below)).to.equal(true);
    // A client honest for a while that then turns: its level climbs at tdRate 0.1, gated after 10 batches (8× the median).
    const h = new TrustGate(DEFAULT_GATE);
    for (const a of ["a", "b", "c", "turn"]) h.observeTd(a, [0.25]);
    let batches = 0;
    while (h.trust("turn") >= DEFAULT_GATE.below && batches < 100) {
      for (const a of ["a", "b", "c"]) h.observeTd(a, [0.25]);
      h.observeTd("turn", Array(16).fill(3));
      batches++;
    }
    expect(batches).to.equal(10);
  });

  it("caps a flooding client at quota × the median client's rows per window; windows halve on decay", () => {
    const g = new TrustGate(settings);
    for (const a of ["a", "b", "c"]) expect(g.admit(a, 100)).to.equal("ok");
    // median window 100 → limit max(100, 3·100) = 300
    expect(g.admit("flood", 300)).to.equal("ok");
    expect(g.admit("flood", 1)).to.equal("quota");
    g.decay(); // windows 50, 50, 50, 150: limit max(100, 3·50) = 150
    expect(g.admit("flood", 1)).to.equal("quota");
    g.decay(); // 25, 25, 25, 75: limit 100
    expect(g.admit("flood", 25)).to.equal("ok");
    expect(g.snapshot().flood).to.deep.include({ quota: 2, gated: 0 });
  });
});

describe("trust-gated replay: reward check", () => {
  it("distrusts a client whose mean reward lies far from the median client's in robust z units", () => {
    const g = new TrustGate({ below: 0.5, rate: 1, tdRate: 1, tdRatio: 3, rewardZ: 6, quota: 0, quotaFloor: 0 });
    // CartPole: honest clients all 1.0 → MAD 0, scale floored at 0.05·1 + 0.01 = 0.06; a flipper at −1: z = 2/0.06 ≈ 33 → trust 6/33.
    // Two batches each: reward trust is judged once three clients have a noise estimate (here 0).
    for (let i = 0; i < 2; i++) for (const a of ["a", "b", "c", "d"]) g.observeReward(a, 1);
    g.observeReward("flip", -1);
    expect(g.trust("flip")).to.be.closeTo(6 / (2 / 0.06), 1e-9);
    expect(g.admit("flip", 1)).to.equal("distrusted");
    expect(["a", "b", "c", "d"].map((a) => g.trust(a))).to.deep.equal([1, 1, 1, 1]);
    // Honest spread (LunarLander-like): rewards −2, −1, 0, 1 → median −0.5, MAD 1 → scale 1.4826: all within z 6.
    const h = new TrustGate({ below: 0.5, rate: 1, tdRate: 1, tdRatio: 3, rewardZ: 6, quota: 0, quotaFloor: 0 });
    for (let k = 0; k < 2; k++) [-2, -1, 0, 1].forEach((r, i) => h.observeReward(`x${i}`, r));
    expect([0, 1, 2, 3].map((i) => h.trust(`x${i}`))).to.deep.equal([1, 1, 1, 1]);
  });

  it("scales z by the clients' batch-to-batch noise too: three LunarLander-like clients whose batches swing by a crash keep trust; a flipper among steady clients does not", () => {
    // Batch means 0.4 or −0.6 (a crash), out of phase: the three EMAs often sit two together and
    // one apart, so the MAD of three is ≈ 0 and, without the noise term, trust fell to 0.18 (z 33).
    const g = new TrustGate(DEFAULT_GATE);
    let min = 1;
    for (let i = 0; i < 90; i++) {
      ["a", "b", "c"].forEach((a, k) => g.observeReward(a, (i + k) % 3 === 0 ? -0.6 : 0.4));
      min = Math.min(min, ...["a", "b", "c"].map((a) => g.trust(a)));
    }
    expect(min).to.equal(1);
    // CartPole: steady clients at 1 (noise 0), a client that negates its rewards is distrusted at its first batch.
    const h = new TrustGate(DEFAULT_GATE);
    for (let i = 0; i < 5; i++) for (const a of ["a", "b", "c"]) h.observeReward(a, 1);
    h.observeReward("flip", -1);
    expect(h.trust("flip")).to.be.below(DEFAULT_GATE.below);
    expect(["a", "b", "c"].map((a) => h.trust(a))).to.deep.equal([1, 1, 1]);
  });
});
