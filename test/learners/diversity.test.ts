import { expect } from "chai";
import { DiversityFilter } from "../../federation/diversity";
import { filterNamed } from "../../federation/filter";
import { allocBatch } from "../../core/batch";
import { mulberry32 } from "../../core/random";

function batchOf(states: number[][]) {
  const d = states[0]!.length;
  const b = allocBatch(states.length, d);
  states.forEach((s, i) => { b.obs.set(s, i * d); b.nextObs.set(s, i * d); });
  return b;
}

describe("diversity filter", () => {
  const cfg = { k: 4, theta: 0.15, reservoir: 64, replayCapacity: 1000 };

  it("accepts everything while fewer than k reference states exist", () => {
    const f = new DiversityFilter(2, cfg);
    const keep = f.keep(batchOf([[0, 0], [0, 0], [0, 0], [0, 0]]));
    expect(Array.from(keep)).to.deep.equal([1, 1, 1, 1]);
    expect(f.referenceCount).to.equal(4);
  });

  it("rejects near-duplicates (D < θ) and accepts novel states (D ≥ θ)", () => {
    const f = new DiversityFilter(2, cfg);
    f.keep(batchOf([[0, 0], [0, 0], [0, 0], [0, 0]]));
    // Every reference is (0,0): D is exactly ‖s‖.
    const keep = f.keep(batchOf([[0.1, 0], [0, 0.149], [0.15, 0], [3, 4]]));
    expect(Array.from(keep)).to.deep.equal([0, 0, 1, 1]);
    expect(f.meanDistance(Float32Array.from([3, 4]), 0)).to.be.greaterThan(0.15);
    expect(f.stats()).to.include({ accepted: 6, rejected: 2 });
    expect(f.acceptRate).to.be.closeTo(6 / 8, 1e-12);
  });

  it("computes D as the mean Euclidean distance to k sampled references", () => {
    const f = new DiversityFilter(2, { ...cfg, k: 8 });
    // Two references: (0,0) and (2,0); from (1,0) every distance is 1, so D = 1 exactly.
    f.warm(batchOf([[0, 0], [2, 0], [0, 0], [2, 0], [0, 0], [2, 0], [0, 0], [2, 0]]));
    expect(f.meanDistance(Float32Array.from([1, 0]), 0)).to.be.closeTo(1, 1e-6);
  });

  it("catches duplicates inside one batch", () => {
    const f = new DiversityFilter(1, { ...cfg, k: 1 });
    const keep = f.keep(batchOf([[5], [5], [5], [6]]));
    expect(Array.from(keep)).to.deep.equal([1, 0, 0, 1]);
  });

  it("the `none` filter passes everything but still counts; the registry names the valid filters", () => {
    const f = filterNamed("none", { k: 1, theta: 0.15, reservoir: 8 }, { obsDim: 1, replayCapacity: 10, seed: 1 });
    expect(Array.from(f.keep(batchOf([[1], [1], [1]])))).to.deep.equal([1, 1, 1]);
    expect(f.stats()).to.include({ name: "none", accepted: 3, rejected: 0, acceptRate: 1 });
    expect(filterNamed("diversity", { k: 1, theta: 0.15, reservoir: 8 }, { obsDim: 1, replayCapacity: 10, seed: 1 })).to.be.instanceOf(DiversityFilter);
    expect(() => filterNamed("bloom", { k: 1, theta: 0, reservoir: 8 }, { obsDim: 1, replayCapacity: 10, seed: 1 })).to.throw(/unknown experience filter "bloom"; valid: diversity, none/);
  });

  it("keeps the reservoir a sample of recent inserts, not only the first ones", () => {
    const f = new DiversityFilter(1, { ...cfg, k: 1, theta: 0, reservoir: 100, replayCapacity: 1000 });
    const rnd = mulberry32(3);
    // 10 000 states: the last 1000 (the replay's content) lie in [100, 101).
    const early = Array.from({ length: 9000 }, () => [rnd()]);
    const late = Array.from({ length: 1000 }, () => [100 + rnd()]);
    f.keep(batchOf([...early, ...late]));
    let recent = 0;
    for (let i = 0; i < 200; i++) if (f.meanDistance(Float32Array.from([100.5]), 0) < 1) recent++;
    // Every 10th of the last 1000 inserts overwrote the oldest slot: all 100 references are recent.
    expect(recent).to.equal(200);
  });
});
