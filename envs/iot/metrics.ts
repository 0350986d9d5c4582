/**
 * Detection metrics over an evaluation run.
 *
 * Conventions (label 1 = malicious = positive class):
 * - precision with no predicted positives = 0 (sklearn's zero_division=0);
 * - recall with no actual positives = NaN; FPR with no actual negatives = NaN;
 * - F1 = 2PR/(P+R), 0 when P+R = 0, NaN when recall is NaN;
 * - accuracy of an empty set = NaN;
 * - ROC-AUC: Mann–Whitney U with midranks for tied scores (a tie between a positive and a
 *   negative counts ½); NaN when only one class is present;
 * - PR-AUC: average precision Σ (R_k − R_{k−1})·P_k over distinct score thresholds in
 *   decreasing order, tied scores entering together (as sklearn); NaN with no positives;
 * - worst-group F1 gap: max − min F1 over the groups of a slice whose F1 is defined
 *   (NaN groups are skipped; 0 with fewer than two defined groups);
 * - TPR at FPR x: the highest TPR of a threshold rule "flag when score ≥ t" whose FPR ≤ x: a
 *   step point of the ROC curve, not interpolated (tied scores are flagged together, so a tie
 *   that would carry FPR over x is not split); 0 when even the highest score's tie group
 *   exceeds x; NaN when either class is absent;
 * - the ranking metrics assume finite scores: a NaN score is its own tie group (so the walks end)
 *   and the value means nothing; detection.ts reports NaN when any score is not finite.
 * For IoTIntrusion-v0 a flow counts as "flagged" (predicted positive) when the action is not
 * `allow`; `score` is any continuous suspicion score the policy exposes.
 */
export interface Confusion { tp: number; fp: number; tn: number; fn: number }

export interface BinaryMetrics extends Confusion {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  fpr: number;
}

export function confusion(labels: ArrayLike<number>, preds: ArrayLike<number>): Confusion {
  if (labels.length !== preds.length) throw new Error("labels and preds differ in length");
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]! ? 1 : 0, p = preds[i]! ? 1 : 0;
    if (y && p) c.tp++; else if (!y && p) c.fp++; else if (!y && !p) c.tn++; else c.fn++;
  }
  return c;
}

export function metricsFromConfusion(c: Confusion): BinaryMetrics {
  const n = c.tp + c.fp + c.tn + c.fn;
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : NaN;
  const f1 = Number.isNaN(recall) ? NaN : precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return {
    ...c, n,
    accuracy: n > 0 ? (c.tp + c.tn) / n : NaN,
    precision, recall, f1,
    fpr: c.fp + c.tn > 0 ? c.fp / (c.fp + c.tn) : NaN,
  };
}

export function binaryMetrics(labels: ArrayLike<number>, preds: ArrayLike<number>): BinaryMetrics {
  return metricsFromConfusion(confusion(labels, preds));
}

/** Midranks (1-based) of the values; ties get the mean of their ranks. */
export function midranks(xs: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: xs.length }, (_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const r = new Float64Array(xs.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && xs[idx[j + 1]!] === xs[idx[i]!]) j++;
    const mid = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]!] = mid;
    i = j + 1;
  }
  return r;
}

export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  let nPos = 0, nNeg = 0, rankSum = 0;
  const r = midranks(scores);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]) { nPos++; rankSum += r[i]!; } else nNeg++;
  }
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function averagePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const idx = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) nPos++;
  if (nPos === 0) return NaN;
  let tp = 0, fp = 0, prevRecall = 0, ap = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j < idx.length && (j === i || scores[idx[j]!] === scores[idx[i]!])) {
      if (labels[idx[j]!]) tp++; else fp++;
      j++;
    }
    const recall = tp / nPos, precision = tp / (tp + fp);
    ap += (recall - prevRecall) * precision;
    prevRecall = recall;
    i = j;
  }
  return ap;
}

/** See the conventions above: the ROC step point with the highest TPR at FPR ≤ maxFpr. */
export function tprAtFpr(labels: ArrayLike<number>, scores: ArrayLike<number>, maxFpr = 0.01): number {
  if (labels.length !== scores.length) throw new Error("labels and scores differ in length");
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) nPos++;
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  const idx = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let tp = 0, fp = 0, best = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j < idx.length && (j === i || scores[idx[j]!] === scores[idx[i]!])) {
      if (labels[idx[j]!]) tp++; else fp++;
      j++;
    }
    // FPR only grows as the threshold falls: the first tie group past the bound ends the walk.
    if (fp > maxFpr * nNeg + 1e-9) break;
    best = tp / nPos;
    i = j;
  }
  return best;
}

/** One evaluated decision. */
export interface EvalRecord {
  label: number;
  pred: number;
  score: number;
  family: string;
  /** slice keys, e.g. { deviceType: "camera", site: "2" } */
  slices?: Record<string, string>;
}

export interface EvalReport {
  overall: BinaryMetrics;
  rocAuc: number;
  prAuc: number;
  /** recall per attack family (benign excluded) */
  familyRecall: Record<string, number>;
  /** per slice name → group → metrics */
  slices: Record<string, Record<string, BinaryMetrics>>;
  /** per slice name → max − min F1 over its groups */
  worstGroupF1Gap: Record<string, number>;
  /** per slice name → the group with the lowest F1 */
  worstGroup: Record<string, string | null>;
}

export function evaluate(records: readonly EvalRecord[], benignFamily = "benign"): EvalReport {
  const labels = records.map((r) => r.label), preds = records.map((r) => r.pred), scores = records.map((r) => r.score);
  const familyRecall: Record<string, number> = {};
  const fam = new Map<string, { tp: number; n: number }>();
  for (const r of records) {
    if (r.family === benignFamily || !r.label) continue;
    const e = fam.get(r.family) ?? { tp: 0, n: 0 };
    e.n++;
    if (r.pred) e.tp++;
    fam.set(r.family, e);
  }
  for (const [f, e] of [...fam.entries()].sort()) familyRecall[f] = e.tp / e.n;
  const groups = new Map<string, Map<string, Confusion>>();
  for (const r of records) {
    for (const [s, g] of Object.entries(r.slices ?? {})) {
      let m = groups.get(s);
      if (!m) groups.set(s, (m = new Map()));
      const c = m.get(g) ?? { tp: 0, fp: 0, tn: 0, fn: 0 };
      const y = r.label ? 1 : 0, p = r.pred ? 1 : 0;
      if (y && p) c.tp++; else if (!y && p) c.fp++; else if (!y && !p) c.tn++; else c.fn++;
      m.set(g, c);
    }
  }
  const slices: EvalReport["slices"] = {};
  const worstGroupF1Gap: Record<string, number> = {};
  const worstGroup: Record<string, string | null> = {};
  for (const [s, m] of groups) {
    slices[s] = {};
    let lo = Infinity, hi = -Infinity, worst: string | null = null;
    for (const [g, c] of [...m.entries()].sort()) {
      const bm = metricsFromConfusion(c);
      slices[s][g] = bm;
      if (Number.isNaN(bm.f1)) continue;
      if (bm.f1 < lo) { lo = bm.f1; worst = g; }
      if (bm.f1 > hi) hi = bm.f1;
    }
    worstGroupF1Gap[s] = hi >= lo && Number.isFinite(lo) ? hi - lo : 0;
    worstGroup[s] = worst;
  }
  return {
    overall: binaryMetrics(labels, preds),
    rocAuc: rocAuc(labels, scores),
    prAuc: averagePrecision(labels, scores),
    familyRecall, slices, worstGroupF1Gap, worstGroup,
  };
}
