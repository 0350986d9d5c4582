/**
 * Scripted baselines for the IoT envs, and an evaluation loop that feeds metrics.ts.
 *
 * IoTIntrusion-v0: allow-all, block-all (drop every flow), a per-feature threshold rule
 * (drop when one observation field crosses a threshold fitted for best F1 on a separate
 * calibration run), and an oracle that reads the ground truth of the presented flow
 * (`info.current.label`, which a real policy never sees) and drops exactly the malicious flows.
 * IoTContainment-v0: do-nothing, isolate-on-alert, patch-on-alert, monitor-then-patch (monitor an
 * alerting device, patch it when it alerts again while monitored), and an oracle that patches
 * a compromised device (from `info.compromised`, latent ones included).
 */
import type { Env, Info } from "../types";
import { ALLOW, DROP, INTRUSION_OBS_FIELDS, OBS } from "./intrusion";
import { CONTAINMENT_DEVICE_FIELDS, containmentAction } from "./containment";
import { evaluate, type EvalRecord, type EvalReport } from "./metrics";

/** A policy sees the observation and the info of the last reset/step; returns an action and a suspicion score. */
export type Policy = (obs: Float32Array, info: Info) => { action: number; score: number };

export const allowAll: Policy = () => ({ action: ALLOW, score: 0 });
export const blockAll: Policy = () => ({ action: DROP, score: 1 });
export const intrusionOracle: Policy = (_o, info) => {
  const y = (info.current as { label: number }).label;
  return { action: y ? DROP : ALLOW, score: y };
};
export function thresholdRule(field: number, threshold: number, above: boolean): Policy {
  return (obs) => {
    const v = obs[field]!;
    const s = above ? v : -v;
    return { action: (above ? v > threshold : v < threshold) ? DROP : ALLOW, score: s };
  };
}

export interface Episode { records: EvalRecord[]; ret: number; length: number }

/** Run one episode of IoTIntrusion-v0 with `policy`, recording each decision's truth. */
export function runIntrusionEpisode(env: Env, policy: Policy, seed: number): Episode {
  let { obs, info } = env.reset({ seed });
  const records: EvalRecord[] = [];
  let ret = 0, length = 0;
  for (;;) {
    const { action, score } = policy(obs, info);
    const r = env.step(action);
    const t = r.info as { label: number; family: string; deviceType: string; site: number };
    records.push({ label: t.label, pred: action === ALLOW ? 0 : 1, score, family: t.family,
      slices: { deviceType: t.deviceType, site: String(t.site) } });
    ret += r.reward;
    length++;
    obs = r.obs;
    info = r.info;
    if (r.terminated || r.truncated) break;
  }
  return { records, ret, length };
}

/**
 * Fit the single-field threshold rule: over the flow features (and the IDS alert), the field,
 * direction and threshold with the best F1 on (observation, label) pairs.
 */
export function fitThresholdRule(samples: { obs: Float32Array; label: number }[]):
  { field: number; name: string; threshold: number; above: boolean; f1: number } {
  const fields = [...Array.from({ length: 14 }, (_, j) => OBS.flow + j), OBS.alert];
  const pos = samples.reduce((s, x) => s + x.label, 0);
  let best: { field: number; name: string; threshold: number; above: boolean; f1: number } =
    { field: OBS.alert, name: INTRUSION_OBS_FIELDS[OBS.alert]!, threshold: 0.5, above: true, f1: -1 };
  for (const f of fields) {
    const vals = samples.map((s) => [s.obs[f]!, s.label] as const).sort((a, b) => a[0] - b[0]);
    // sweep: "above" flags values > v_i; "below" flags values < v_{i+1}
    let posBelowOrAt = 0, nBelowOrAt = 0;
    for (let i = 0; i < vals.length; i++) {
      posBelowOrAt += vals[i]![1];
      nBelowOrAt++;
      if (i + 1 < vals.length && vals[i + 1]![0] === vals[i]![0]) continue;
      const next = i + 1 < vals.length ? vals[i + 1]![0] : vals[i]![0] + 1;
      const thr = (vals[i]![0] + next) / 2;
      const tpA = pos - posBelowOrAt, flaggedA = vals.length - nBelowOrAt;
      const f1A = flaggedA + pos > 0 ? (2 * tpA) / (flaggedA + pos) : 0;
      const f1B = nBelowOrAt + pos > 0 ? (2 * posBelowOrAt) / (nBelowOrAt + pos) : 0;
      if (f1A > best.f1) best = { field: f, name: INTRUSION_OBS_FIELDS[f]!, threshold: thr, above: true, f1: f1A };
      if (f1B > best.f1) best = { field: f, name: INTRUSION_OBS_FIELDS[f]!, threshold: thr, above: false, f1: f1B };
    }
  }
  return best;
}

/** Collect (obs, label) pairs under allow-all, for fitting the threshold rule. */
export function collectIntrusionSamples(env: Env, seeds: number[]): { obs: Float32Array; label: number }[] {
  const out: { obs: Float32Array; label: number }[] = [];
  for (const seed of seeds) {
    let { obs, info } = env.reset({ seed });
    for (;;) {
      out.push({ obs, label: (info.current as { label: number }).label });
      const r = env.step(ALLOW);
      obs = r.obs;
      info = r.info;
      if (r.terminated || r.truncated) break;
    }
  }
  return out;
}

export function evaluateEpisodes(eps: Episode[]): EvalReport & { meanReturn: number; stdReturn: number } {
  const rets = eps.map((e) => e.ret);
  const mean = rets.reduce((a, b) => a + b, 0) / rets.length;
  const std = Math.sqrt(rets.reduce((a, b) => a + (b - mean) ** 2, 0) / rets.length);
  return { ...evaluate(eps.flatMap((e) => e.records)), meanReturn: mean, stdReturn: std };
}

// ---------------------------------------------------------------- containment

const PER = CONTAINMENT_DEVICE_FIELDS.length;
const deviceCount = (obs: Float32Array) => (obs.length - 1) / PER;

export const doNothing: Policy = () => ({ action: 0, score: 0 });

/** Act on the alerted device with the highest alert EWMA that is not already isolated/being patched. */
function onAlert(kind: "isolate" | "patch"): Policy {
  return (obs) => {
    let best = -1, bestScore = -1;
    for (let i = 0; i < deviceCount(obs); i++) {
      const b = i * PER;
      const busy = kind === "isolate" ? obs[b + 2]! > 0 : obs[b + 4]! > 0;
      if (obs[b]! === 1 && !busy && obs[b + 1]! > bestScore) { best = i; bestScore = obs[b + 1]!; }
    }
    return best < 0 ? { action: 0, score: 0 } : { action: containmentAction(best, kind), score: bestScore };
  };
}
export const isolateOnAlert = onAlert("isolate");
export const patchOnAlert = onAlert("patch");

/**
 * Patch a monitored device that alerts (monitoring's false-alarm rate is low); otherwise start
 * monitoring the unmonitored alerting device with the highest alert EWMA. The scripted answer
 * to false-alert bursts: pays a little monitoring and a step of delay instead of a patch.
 */
export const monitorThenPatch: Policy = (obs) => {
  let patch = -1, watch = -1, watchScore = -1;
  for (let i = 0; i < deviceCount(obs); i++) {
    const b = i * PER;
    if (obs[b]! !== 1 || obs[b + 4]! === 1) continue; // no alert, or already being patched
    if (obs[b + 3]! > 0) { if (patch < 0) patch = i; }
    else if (obs[b + 1]! > watchScore) { watch = i; watchScore = obs[b + 1]!; }
  }
  if (patch >= 0) return { action: containmentAction(patch, "patch"), score: 1 };
  return watch < 0 ? { action: 0, score: 0 } : { action: containmentAction(watch, "monitor"), score: watchScore };
};
export const containmentOracle: Policy = (obs, info) => {
  const comp = info.compromised as number[];
  for (let i = 0; i < comp.length; i++) {
    if (comp[i] && obs[i * PER + 4]! !== 1) return { action: containmentAction(i, "patch"), score: 1 };
  }
  return { action: 0, score: 0 };
};

export interface ContainmentEpisode {
  ret: number;
  length: number;
  /** ended by termination (no compromise left; only without outside intrusions) */
  cleaned: boolean;
  meanCompromised: number;
  /** fraction of steps that ended with no compromised device */
  cleanSteps: number;
  /** patches / isolations of devices that were not compromised when acted on */
  wastedPatches: number;
  wastedIsolations: number;
  patches: number;
}

export function runContainmentEpisode(env: Env, policy: Policy, seed: number): ContainmentEpisode {
  let { obs, info } = env.reset({ seed });
  let ret = 0, length = 0, compSum = 0, cleaned = false, clean = 0, wastedPatches = 0, wastedIsolations = 0, patches = 0;
  for (;;) {
    const action = policy(obs, info).action;
    if (action > 0) {
      const i = Math.floor((action - 1) / 3), k = (action - 1) % 3;
      const wasCompromised = (info.compromised as number[])[i] === 1;
      if (k === 2) { patches++; if (!wasCompromised) wastedPatches++; }
      if (k === 1 && !wasCompromised) wastedIsolations++;
    }
    const r = env.step(action);
    ret += r.reward;
    length++;
    compSum += r.info.nCompromised as number;
    if (r.info.nCompromised === 0) clean++;
    obs = r.obs;
    info = r.info;
    if (r.terminated) cleaned = true;
    if (r.terminated || r.truncated) break;
  }
  return { ret, length, cleaned, meanCompromised: compSum / length, cleanSteps: clean / length, wastedPatches, wastedIsolations, patches };
}
