import { expect } from "chai";
import { averagePrecision, binaryMetrics, evaluate, midranks, rocAuc } from "../../envs/iot/metrics";

describe("IoT metrics", () => {
  it("confusion-based metrics on a hand-computed case", () => {
    // y: 1 1 1 0 0 0 0 ; p: 1 1 0 1 0 0 0 → tp 2, fn 1, fp 1, tn 3
    const m = binaryMetrics([1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0]);
    expect([m.tp, m.fn, m.fp, m.tn]).to.deep.equal([2, 1, 1, 3]);
    expect(m.accuracy).to.be.closeTo(5 / 7, 1e-12);
    expect(m.precision).to.be.closeTo(2 / 3, 1e-12);
    expect(m.recall).to.be.closeTo(2 / 3, 1e-12);
    expect(m.f1).to.be.closeTo(2 / 3, 1e-12);
    expect(m.fpr).to.be.closeTo(1 / 4, 1e-12);
  });

  it("single-class and empty edge cases follow the documented conventions", () => {
    const allNeg = binaryMetrics([0, 0, 0], [0, 1, 0]);
    expect(allNeg.recall).to.be.NaN;
    expect(allNeg.f1).to.be.NaN;
    expect(allNeg.precision).to.equal(0);
    expect(allNeg.fpr).to.be.closeTo(1 / 3, 1e-12);
    const allPos = binaryMetrics([1, 1], [0, 0]);
    expect(allPos.fpr).to.be.NaN;
    expect(allPos.precision).to.equal(0);
    expect(allPos.f1).to.equal(0);
    expect(binaryMetrics([], []).accuracy).to.be.NaN;
    expect(rocAuc([1, 1, 1], [0.1, 0.5, 0.9])).to.be.NaN;
    expect(rocAuc([0, 0], [0.1, 0.5])).to.be.NaN;
    expect(averagePrecision([0, 0], [0.1, 0.5])).to.be.NaN;
    expect(averagePrecision([1, 1], [0.1, 0.5])).to.equal(1);
  });

  it("midranks average tied ranks", () => {
    expect([...midranks([3, 1, 3, 2, 3])]).to.deep.equal([4, 1, 4, 2, 4]);
  });

  it("ROC-AUC counts ties as ½ (Mann–Whitney with midranks)", () => {
    // pos scores {0.8, 0.4}, neg {0.4, 0.1}: pairs (0.8>0.4)=1, (0.8>0.1)=1, (0.4=0.4)=½, (0.4>0.1)=1 → 3.5/4
    expect(rocAuc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1])).to.be.closeTo(0.875, 1e-12);
    expect(rocAuc([1, 0, 1, 0], [1, 0, 1, 0])).to.equal(1);
    expect(rocAuc([1, 0, 1, 0], [0, 1, 0, 1])).to.equal(0);
    expect(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).to.equal(0.5);
    // brute force agreement on a tie-heavy case
    const y = [1, 0, 0, 1, 1, 0, 1, 0, 0, 1], s = [2, 2, 1, 3, 2, 3, 1, 1, 2, 3];
    let num = 0, den = 0;
    for (let i = 0; i < y.length; i++) for (let j = 0; j < y.length; j++) {
      if (y[i] === 1 && y[j] === 0) { den++; num += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0; }
    }
    expect(rocAuc(y, s)).to.be.closeTo(num / den, 1e-12);
  });

  it("average precision on hand-computed cases, ties entering together", () => {
    // scores desc: 0.9(1) 0.8(0) 0.7(1) 0.1(0): AP = 0.5·1 + 0.5·(2/3) = 5/6
    expect(averagePrecision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])).to.be.closeTo(5 / 6, 1e-12);
    // a tie of (1, 0) at the top: one threshold, P = ½, R = ½; then 0.3(1): P = 2/3, R = 1 → ½·½ + ½·⅔ = 7/12
    expect(averagePrecision([1, 0, 1], [0.9, 0.9, 0.3])).to.be.closeTo(7 / 12, 1e-12);
    // constant score: AP = prevalence
    expect(averagePrecision([1, 0, 0, 0], [1, 1, 1, 1])).to.be.closeTo(0.25, 1e-12);
  });

  it("evaluate: family recall, slices and worst-group F1 gap", () => {
    const rec = (label: number, pred: number, family: string, dt: string, site: string) =>
      ({ label, pred, score: pred, family, slices: { deviceType: dt, site } });
    const r = evaluate([
      rec(1, 1, "dos", "camera", "0"), rec(1, 0, "dos", "camera", "0"), rec(0, 0, "benign", "camera", "0"),
      rec(1, 1, "portscan", "plc", "1"), rec(0, 1, "benign", "plc", "1"), rec(0, 0, "benign", "plc", "1"),
      rec(0, 0, "benign", "gateway", "1"),
    ]);
    expect(r.familyRecall).to.deep.equal({ dos: 0.5, portscan: 1 });
    // camera: tp1 fn1 → P 1, R ½, F1 2/3; plc: tp1 fp1 → P ½, R 1, F1 2/3; gateway: F1 NaN (skipped)
    expect(r.slices.deviceType!.camera!.f1).to.be.closeTo(2 / 3, 1e-12);
    expect(r.slices.deviceType!.gateway!.f1).to.be.NaN;
    expect(r.worstGroupF1Gap.deviceType).to.be.closeTo(0, 1e-12);
    // site 0: tp1 fn1 tn1 → F1 2/3; site 1: tp1 fp1 tn2 → F1 2/3
    expect(r.worstGroupF1Gap.site).to.be.closeTo(0, 1e-12);
    const r2 = evaluate([rec(1, 1, "dos", "a", "0"), rec(1, 0, "dos", "b", "1"), rec(1, 1, "dos", "b", "1"), rec(0, 1, "benign", "b", "1")]);
    // a: F1 1; b: tp1 fn1 fp1 → P ½ R ½ F1 ½ → gap ½, worst "b"
    expect(r2.worstGroupF1Gap.deviceType).to.be.closeTo(0.5, 1e-12);
    expect(r2.worstGroup.deviceType).to.equal("b");
    expect(r2.overall.tp).to.equal(2);
  });
});
