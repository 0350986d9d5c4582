/**
 * A policy of IoTIntrusion-v0 judged as a detector on held-out traffic.
 *
 * The policy acts in closed loop (its decisions shape the episode: an isolated device stops its
 * campaign, a verdict shows in the device's flags), and every decision is recorded with the truth
 * of the flow it was made on. So the flows depend on the policy: one that isolates every device
 * keeps campaigns from starting and can face no attack at all (recall and F1 are then NaN, and the
 * benign flows it lost say why). A flow counts as flagged when the action is not `allow`
 * (metrics.ts). The continuous score, for ROC-AUC, PR-AUC and TPR at FPR 1 %, is the policy's
 * preference for blocking over allowing: with per-action scores s (Q-values, action
 * log-probabilities), score = max_{a ≠ allow} s_a − s_allow; for log-probabilities that is
 * log(max_a π_a / π_allow). A policy without scores is scored by its decision (0/1), and the
 * report says so (`scoreSource: "actions"`): its AUCs then measure one operating point only.
 *
 * Operational costs come from what the env reports per step (info.action, info.rewardParts):
 * - damage let through: −rewardParts.damage, the severity-weighted damage of malicious flows that
 *   were delivered (a rate limit delivers a share; reward.damageScale applies);
 * - benign flows lost: benign flows the action kept from their destination (drop, isolate, and
 *   escalate, which holds a flow for the analyst); rate-limited and verified flows are delivered;
 * - escalations and isolations: how often the analyst queue and the quarantine were used.
 * Each is reported per 1,000 flows.
 *
 * Held-out data (who picks it): the caller names the sites' env options and the episode seeds.
 * `heldOutSplit` gives CSV sources the file split training did not draw from (the loader's
 * hash split for CIC-IDS2017, the official one for UNSW-NB15: launch/detection.ts picks the seeds
 * away from the actors' env seeds).
 */
import type { Env, Info } from "../types";
import { ACTIONS, ALLOW } from "./intrusion";
import { evaluate, tprAtFpr, type BinaryMetrics, type EvalRecord } from "./metrics";

/** What is judged: a decision per observation and, when the policy has them, per-action scores. */
export interface Detector {
  act(obs: Float32Array, info: Info): number;
  /** Per-action preferences (Q-values, log-probabilities); absent: the decision is the score. */
  scores?(obs: Float32Array, info: Info): ArrayLike<number>;
}

/** One decision with its truth and what it cost. */
export interface DetectionRecord extends EvalRecord {
  /** The action's name (ACTIONS). */
  action: string;
  /** Severity-weighted damage this flow did (≥ 0; 0 unless malicious and delivered). */
  damage: number;
  /** 1 when a benign flow was kept from its destination (drop, isolate, escalate). */
  benignLost: number;
}

/** Preference for blocking over allowing: max over the other actions of s_a − s_allow. */
export function blockScore(scores: ArrayLike<number>, allow = ALLOW): number {
  let best = -Infinity;
  for (let a = 0; a < scores.length; a++) if (a !== allow && scores[a]! > best) best = scores[a]!;
  return best - scores[allow]!;
}

const KEEPS_BENIGN_FLOW: ReadonlySet<string> = new Set(["drop", "isolate", "escalate"]);

/** One episode of IoTIntrusion-v0 (the env wrapped in its time limit) under `detector`, recorded. */
export function runDetectionEpisode(env: Env, detector: Detector, seed: number): DetectionRecord[] {
  let { obs, info } = env.reset({ seed });
  const out: DetectionRecord[] = [];
  for (;;) {
    const action = detector.act(obs, info);
    const score = detector.scores ? blockScore(detector.scores(obs, info)) : action === ALLOW ? 0 : 1;
    const r = env.step(action);
    const t = r.info as { label: number; family: string; deviceType: string; site: number; action: string; rewardParts: { damage: number } };
    const name = t.action ?? ACTIONS[action]!;
    out.push({
      label: t.label, pred: action === ALLOW ? 0 : 1, score, family: t.family,
      slices: { site: String(t.site), deviceType: t.deviceType },
      action: name, damage: -(t.rewardParts?.damage ?? 0),
      benignLost: !t.label && KEEPS_BENIGN_FLOW.has(name) ? 1 : 0,
    });
    obs = r.obs;
    info = r.info;
    if (r.terminated || r.truncated) break;
  }
  return out;
}

/** Detection quality and operational cost of one set of decisions. */
export interface DetectionMetrics extends BinaryMetrics {
  /** Malicious flows among n. */
  malicious: number;
  rocAuc: number;
  prAuc: number;
  /** TPR at FPR ≤ 1 % (metrics.ts: a ROC step point). */
  tprAtFpr1: number;
  damagePer1k: number;
  benignLostPer1k: number;
  escalationsPer1k: number;
  isolationsPer1k: number;
  /** max − min F1 over the device types seen, and the one with the lowest F1. */
  worstDeviceTypeF1Gap: number;
  worstDeviceType: string | null;
}

export interface DetectionReport {
  /** Every site's flows together. */
  pooled: DetectionMetrics;
  /** Per site index ("0", "1", …). */
  sites: Record<string, DetectionMetrics>;
  /** The lowest per-site F1 (NaN sites skipped), its site, and max − min F1 over sites. */
  worstSiteF1: number;
  worstSite: string | null;
  worstSiteF1Gap: number;
  /** Recall per attack family, pooled. */
  familyRecall: Record<string, number>;
  /** "scores": the policy's per-action scores; "actions": its 0/1 decisions (no scores). */
  scoreSource: "scores" | "actions";
  /** Decisions whose score was NaN or infinite (the ranking metrics are NaN then). */
  nonFiniteScores: number;
}

function metricsOf(records: readonly DetectionRecord[]): DetectionMetrics {
  const r = evaluate(records);
  const labels = records.map((x) => x.label), scores = records.map((x) => x.score);
  const finite = scores.every(Number.isFinite);
  const n = records.length;
  const per1k = (v: number) => (n > 0 ? (1000 * v) / n : NaN);
  let damage = 0, lost = 0, esc = 0, iso = 0;
  for (const x of records) {
    damage += x.damage;
    lost += x.benignLost;
    if (x.action === "escalate") esc++;
    if (x.action === "isolate") iso++;
  }
  return {
    ...r.overall,
    malicious: labels.reduce((s, y) => s + (y ? 1 : 0), 0),
    rocAuc: finite ? r.rocAuc : NaN,
    prAuc: finite ? r.prAuc : NaN,
    tprAtFpr1: finite ? tprAtFpr(labels, scores, 0.01) : NaN,
    damagePer1k: per1k(damage), benignLostPer1k: per1k(lost), escalationsPer1k: per1k(esc), isolationsPer1k: per1k(iso),
    worstDeviceTypeF1Gap: r.worstGroupF1Gap.deviceType ?? 0,
    worstDeviceType: r.worstGroup.deviceType ?? null,
  };
}

/** The report over recorded decisions (each record's slices.site names its site). */
export function detectionReport(records: readonly DetectionRecord[], scoreSource: DetectionReport["scoreSource"] = "scores"): DetectionReport {
  const bySite = new Map<string, DetectionRecord[]>();
  for (const r of records) {
    const k = r.slices?.site ?? "0";
    let a = bySite.get(k);
    if (!a) bySite.set(k, (a = []));
    a.push(r);
  }
  const sites: Record<string, DetectionMetrics> = {};
  let lo = Infinity, hi = -Infinity, worst: string | null = null;
  for (const k of [...bySite.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))) {
    const m = metricsOf(bySite.get(k)!);
    sites[k] = m;
    if (Number.isNaN(m.f1)) continue;
    if (m.f1 < lo) { lo = m.f1; worst = k; }
    if (m.f1 > hi) hi = m.f1;
  }
  return {
    pooled: metricsOf(records), sites,
    worstSiteF1: worst === null ? NaN : lo, worstSite: worst, worstSiteF1Gap: worst === null ? 0 : hi - lo,
    familyRecall: evaluate(records).familyRecall,
    scoreSource, nonFiniteScores: records.filter((r) => !Number.isFinite(r.score)).length,
  };
}

/** A held-out evaluation set: per site, its env and the episode seeds it is run with. */
export interface HeldOutSite {
  site: number;
  env: Env;
  seeds: readonly number[];
}

/** Runs `detector` on every site's seeds and reports. */
export function evaluateDetector(detector: Detector, sites: readonly HeldOutSite[]): DetectionReport {
  const records: DetectionRecord[] = [];
  for (const s of sites) for (const seed of s.seeds) records.push(...runDetectionEpisode(s.env, detector, seed));
  return detectionReport(records, detector.scores ? "scores" : "actions");
}

/**
 * The CSV split held out from training: the one the training envs did not draw rows from
 * (`split` option, default "train"); null for synthetic traffic, whose held-out part is its seeds.
 */
export function heldOutSplit(options: Record<string, unknown>): "train" | "test" | null {
  if ((options.source ?? "synthetic") === "synthetic") return null;
  return options.split === "test" ? "train" : "test";
}
