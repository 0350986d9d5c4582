/**
 * IoTContainment-v0 — a site's device network under a persistent attacker.
 *
 * N devices (default 10) form a seeded connected graph (a random spanning tree plus extra
 * edges; gateways get extra links). The attacker holds one foothold device at reset and keeps
 * breaking in from outside: each step, with probability `intrusionRate`, one exposed device
 * (clean, up, not isolated, not immune; drawn by EXPOSURE, gateways and cameras first) is
 * compromised. Every new compromise is **latent** for a geometric dwell (mean `dwellSteps`):
 * it does not spread and alerts only with `latentTPR`. Then it is **active**: each step it
 * tries to compromise each clean, up, non-isolated, non-immune neighbour with the target
 * type's probability (SPREAD_PROB) — lateral movement — and alerts with `alertTPR`.
 * Alerts are noisy both ways: besides missed alerts, a clean device alerts with `alertFPR`,
 * and each step enters with probability `noiseRate` a false-alert burst (geometric, mean
 * `noiseSteps`) during which it alerts with `noiseFPR`. A monitored device alerts with
 * `monitoredTPR` if compromised (latent or active) and `monitoredFPR` otherwise (monitoring
 * sees through the bursts).
 *
 * Actions: 1 + 3N discrete (N = devices): 0 = do nothing; 1 + 3i + k acts on device i with
 * k = 0 monitor (for `monitorSteps`), 1 isolate (for `isolationSteps`: it can neither spread
 * nor be infected, stays compromised, and its service is lost), 2 patch-and-restore (device
 * down for `patchSteps` — still compromised, not spreading, service lost — then clean and
 * immune for `immuneSteps`).
 *
 * Reward per step: −compromiseWeight·Σ value(compromised and not isolated: an isolated device is
 * cut off, the attacker can do nothing with it until it is released) − availabilityWeight·Σ
 * value(isolated or under patch) − action cost. With `intrusionRate` > 0 the attacker never leaves and the
 * episode ends at the time limit (maxEpisodeSteps 100 in the registry); with `intrusionRate` 0
 * it terminates when no device is compromised (after the spread of that step).
 *
 * Why these dynamics (issue #17): with a single foothold, no dwell and clean alerts, patching
 * whatever alerts was nearly as good as the oracle (−2.7 vs −0.7). Now a rule that trusts
 * alerts either acts late (latent devices, missed alerts: the compromise spreads meanwhile)
 * or pays patch cost and downtime on devices that were never compromised (bursts).
 *
 * Observation: 7 features per device (CONTAINMENT_DEVICE_FIELDS) in device order, then
 * `isolated_fraction`; see CONTAINMENT_OBS_FIELDS:
 * | field           | meaning |
 * |-----------------|---------|
 * | alert           | this step's alert on the device (1/0), noisy |
 * | alert_ewma      | EWMA (0.7) of its alerts |
 * | isolated        | 1 while isolated |
 * | monitored       | 1 while monitored |
 * | down_or_immune  | 1 while being patched, 0.5 while immune after a patch, else 0 |
 * | value           | device value / 3 (type-dependent, static) |
 * | degree          | neighbours / (N − 1) (static) |
 * Info (ground truth, for oracles and tests): `compromised` and `latent` (0/1 per device),
 * `noisy` (0/1: in a false-alert burst), `nCompromised`, `intrusions` (this step's break-ins
 * from outside), `spread` (this step's lateral compromises), `site`, `action` name, `rewardParts`.
 */
import type { Env, Info, ResetOptions, ResetResult, StepResult } from "../types";
import { Rng } from "./rng";
import { dirichletSplit } from "./sites";
import { DEVICE_PRIOR, DEVICE_TYPES, type DeviceType } from "./traffic";

export const DEVICE_VALUE: Record<DeviceType, number> = {
  camera: 1, thermostat: 0.5, smart_plug: 0.3, sensor_hub: 1, plc: 3, gateway: 2,
};
/** probability per step and infected neighbour that a device of this type is compromised */
export const SPREAD_PROB: Record<DeviceType, number> = {
  camera: 0.25, thermostat: 0.15, smart_plug: 0.3, sensor_hub: 0.2, plc: 0.1, gateway: 0.15,
};
/** relative chance that a break-in from outside lands on a device of this type (internet-facing first) */
export const EXPOSURE: Record<DeviceType, number> = {
  camera: 2, thermostat: 1, smart_plug: 1, sensor_hub: 1, plc: 0.5, gateway: 3,
};
export const CONTAINMENT_DEVICE_FIELDS = ["alert", "alert_ewma", "isolated", "monitored", "down_or_immune", "value", "degree"] as const;
const PER = CONTAINMENT_DEVICE_FIELDS.length;

export interface ContainmentConfig {
  devices: number;
  extraEdges: number;
  compromiseWeight: number;
  availabilityWeight: number;
  monitorCost: number;
  isolateCost: number;
  patchCost: number;
  monitorSteps: number;
  isolationSteps: number;
  patchSteps: number;
  immuneSteps: number;
  /** alert probability of an active compromised device */
  alertTPR: number;
  /** alert probability of a latent compromised device */
  latentTPR: number;
  alertFPR: number;
  monitoredTPR: number;
  monitoredFPR: number;
  /** probability per step that the attacker breaks into one exposed device from outside (0: only the foothold) */
  intrusionRate: number;
  /** mean steps a new compromise stays latent (geometric, ≥ 1) */
  dwellSteps: number;
  /** probability per step that a clean device starts a false-alert burst */
  noiseRate: number;
  /** mean length of a burst (geometric, ≥ 1) */
  noiseSteps: number;
  /** alert probability of an unmonitored clean device during a burst */
  noiseFPR: number;
}

export const DEFAULT_CONTAINMENT: ContainmentConfig = {
  devices: 10, extraEdges: 5, compromiseWeight: 0.2, availabilityWeight: 0.1, monitorCost: 0.02,
  isolateCost: 0.1, patchCost: 0.3, monitorSteps: 5, isolationSteps: 8, patchSteps: 3, immuneSteps: 10,
  alertTPR: 0.4, latentTPR: 0.05, alertFPR: 0.03, monitoredTPR: 0.9, monitoredFPR: 0.02,
  intrusionRate: 0.05, dwellSteps: 4, noiseRate: 0.02, noiseSteps: 5, noiseFPR: 0.5,
};

export interface ContainmentOptions extends Partial<ContainmentConfig> {
  site?: number;
  sites?: number;
  alpha?: number;
  /** seed of the device mix split, device types and graph (default 0) */
  splitSeed?: number;
  seed?: number;
}

export function containmentObsFields(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) for (const f of CONTAINMENT_DEVICE_FIELDS) out.push(`dev${i}.${f}`);
  out.push("isolated_fraction");
  return out;
}
export const CONTAINMENT_OBS_FIELDS = containmentObsFields(DEFAULT_CONTAINMENT.devices);

export const CONTAINMENT_ACTIONS = ["monitor", "isolate", "patch"] as const;
export function containmentAction(device: number, kind: "monitor" | "isolate" | "patch"): number {
  return 1 + 3 * device + CONTAINMENT_ACTIONS.indexOf(kind);
}

const PROBABILITIES = ["alertTPR", "latentTPR", "alertFPR", "monitoredTPR", "monitoredFPR", "intrusionRate", "noiseRate", "noiseFPR"] as const;
const COUNTS = ["devices", "monitorSteps", "isolationSteps", "patchSteps"] as const;

/** Unknown keys and out-of-range values are refused with one line naming the key (and the valid keys). */
function checkContainmentConfig(c: Record<string, unknown>): ContainmentConfig {
  const bad = Object.keys(c).filter((k) => !(k in DEFAULT_CONTAINMENT));
  if (bad.length) throw new Error(`unknown option${bad.length > 1 ? "s" : ""} ${bad.join(", ")}; valid: site, sites, alpha, splitSeed, seed, ${Object.keys(DEFAULT_CONTAINMENT).join(", ")}`);
  for (const [k, v] of Object.entries(c)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new RangeError(`${k} must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
  }
  for (const k of PROBABILITIES) if ((c[k] as number) > 1) throw new RangeError(`${k} is a probability, got ${c[k]}`);
  for (const k of COUNTS) if (!Number.isInteger(c[k]) || (c[k] as number) < 1) throw new RangeError(`${k} must be an integer ≥ 1, got ${c[k]}`);
  for (const k of ["immuneSteps", "extraEdges"] as const) if (!Number.isInteger(c[k])) throw new RangeError(`${k} must be an integer ≥ 0, got ${c[k]}`);
  for (const k of ["dwellSteps", "noiseSteps"] as const) if ((c[k] as number) < 1) throw new RangeError(`${k} is a mean length in steps, ≥ 1, got ${c[k]}`);
  return c as unknown as ContainmentConfig;
}

/** 1 + Geometric failures: a length ≥ 1 with the given mean. */
function geometricLength(rng: Rng, mean: number): number {
  const q = 1 - 1 / mean;
  let k = 1;
  while (k < 10_000 && rng.next() < q) k++;
  return k;
}

interface Dev {
  compromised: boolean;
  /** steps left before a compromise turns active (0 = active, or clean) */
  latentLeft: number;
  /** steps left in a false-alert burst */
  noisyLeft: number;
  isolatedLeft: number;
  monitoredLeft: number;
  patchLeft: number;
  immuneLeft: number;
  alert: number;
  alertEwma: number;
}

export class IoTContainmentEnv implements Env {
  readonly id = "IoTContainment-v0";
  readonly observationSize: number;
  readonly actionCount: number;
  readonly cfg: ContainmentConfig;
  readonly site: number;
  readonly types: DeviceType[];
  readonly neighbours: number[][];
  readonly obsFields: string[];
  private readonly defaultSeed: number;
  private rng: Rng | null = null;
  private devs: Dev[] = [];
  private started = false;

  constructor(options: ContainmentOptions = {}) {
    const { site = 0, sites = 5, alpha = 0.3, splitSeed = 0, seed, ...rest } = options;
    this.cfg = checkContainmentConfig({ ...DEFAULT_CONTAINMENT, ...(rest as Partial<ContainmentConfig>) });
    if (!Number.isInteger(sites) || sites < 1) throw new RangeError(`sites must be a positive integer, got ${sites}`);
    if (!Number.isInteger(site) || site < 0 || site >= sites) throw new RangeError(`site must be in [0, ${sites})`);
    this.site = site;
    const n = this.cfg.devices;
    this.observationSize = PER * n + 1;
    this.actionCount = 1 + 3 * n;
    this.obsFields = containmentObsFields(n);
    this.defaultSeed = seed ?? 1000 * splitSeed + site;
    const mix = dirichletSplit({ sites, alpha, seed: splitSeed + 0x51ed, categories: DEVICE_TYPES,
      prior: DEVICE_TYPES.map((d) => DEVICE_PRIOR[d]) })[site]!;
    const g = new Rng((splitSeed * 7919 + site * 104729 + 99) >>> 0);
    this.types = Array.from({ length: n }, () => DEVICE_TYPES[g.categorical(mix)]!);
    // connected graph: random spanning tree (attach each node to an earlier one; gateways attract links) + extra edges
    const adj = Array.from({ length: n }, () => new Set<number>());
    const link = (a: number, b: number) => { if (a !== b) { adj[a]!.add(b); adj[b]!.add(a); } };
    for (let i = 1; i < n; i++) {
      const w = Array.from({ length: i }, (_, j) => (this.types[j] === "gateway" ? 4 : 1));
      link(i, g.categorical(w));
    }
    for (let e = 0; e < this.cfg.extraEdges; e++) link(g.int(n), g.int(n));
    this.neighbours = adj.map((s) => [...s].sort((a, b) => a - b));
  }

  reset(options: ResetOptions = {}): ResetResult {
    if (options.seed !== undefined) this.rng = new Rng(options.seed);
    else if (!this.rng) this.rng = new Rng(this.defaultSeed);
    const n = this.cfg.devices;
    this.devs = Array.from({ length: n }, () => ({ compromised: false, latentLeft: 0, noisyLeft: 0, isolatedLeft: 0,
      monitoredLeft: 0, patchLeft: 0, immuneLeft: 0, alert: 0, alertEwma: 0 }));
    this.compromise(this.rng.int(n)); // the foothold
    this.started = true;
    this.alerts();
    return { obs: this.observe(), info: this.info(null, {}, 0, 0) };
  }

  step(action: number): StepResult {
    if (!this.started || !this.rng) throw new Error("IoTContainment-v0: call reset() before step()");
    if (!Number.isInteger(action) || action < 0 || action >= this.actionCount) {
      throw new RangeError(`action must be an integer in [0, ${this.actionCount}), got ${action}`);
    }
    const c = this.cfg, rng = this.rng;
    let actionCost = 0;
    let name = "noop";
    if (action > 0) {
      const i = Math.floor((action - 1) / 3), k = (action - 1) % 3;
      const d = this.devs[i]!;
      name = `${CONTAINMENT_ACTIONS[k]}:${i}`;
      if (k === 0) { d.monitoredLeft = c.monitorSteps; actionCost = c.monitorCost; }
      else if (k === 1) { d.isolatedLeft = c.isolationSteps; actionCost = c.isolateCost; }
      else { d.patchLeft = c.patchSteps; actionCost = c.patchCost; }
    }
    // dwell: a device compromised k steps ago (latent for k alert rounds) turns active now
    for (const d of this.devs) if (d.latentLeft > 0) d.latentLeft--;
    // lateral movement: from active (not latent) compromised devices that are up and not isolated, to such clean devices
    const up = (d: Dev) => d.isolatedLeft === 0 && d.patchLeft === 0;
    const open = (d: Dev) => !d.compromised && up(d) && d.immuneLeft === 0;
    const newly: number[] = [];
    this.devs.forEach((d, i) => {
      if (!d.compromised || d.latentLeft > 0 || !up(d)) return;
      for (const j of this.neighbours[i]!) if (open(this.devs[j]!) && rng.bernoulli(SPREAD_PROB[this.types[j]!])) newly.push(j);
    });
    const spread = new Set(newly);
    for (const j of spread) this.compromise(j);
    // a break-in from outside
    let intrusions = 0;
    if (c.intrusionRate > 0 && rng.bernoulli(c.intrusionRate)) {
      const cand = this.devs.map((d, i) => (open(d) ? EXPOSURE[this.types[i]!] : 0));
      if (cand.some((w) => w > 0)) { this.compromise(rng.categorical(cand)); intrusions = 1; }
    }
    // this step's costs: a device patched or isolated this step is down this step; a device under patch is still compromised
    let compromisedValue = 0, unavailable = 0;
    this.devs.forEach((d, i) => {
      const v = DEVICE_VALUE[this.types[i]!];
      if (d.compromised && d.isolatedLeft === 0) compromisedValue += v;
      if (d.isolatedLeft > 0 || d.patchLeft > 0) unavailable += v;
    });
    // timers; a finished patch restores the device
    for (const d of this.devs) {
      if (d.patchLeft > 0 && --d.patchLeft === 0) { d.compromised = false; d.latentLeft = 0; d.immuneLeft = c.immuneSteps; }
      else if (d.immuneLeft > 0) d.immuneLeft--;
      if (d.isolatedLeft > 0) d.isolatedLeft--;
      if (d.monitoredLeft > 0) d.monitoredLeft--;
      if (d.noisyLeft > 0) d.noisyLeft--;
      else if (!d.compromised && c.noiseRate > 0 && rng.bernoulli(c.noiseRate)) d.noisyLeft = geometricLength(rng, c.noiseSteps);
    }
    const parts = { compromise: -c.compromiseWeight * compromisedValue, availability: -c.availabilityWeight * unavailable, action: -actionCost };
    this.alerts();
    const terminated = c.intrusionRate === 0 && this.devs.every((d) => !d.compromised);
    return { obs: this.observe(), reward: parts.compromise + parts.availability + parts.action, terminated, truncated: false,
      info: this.info(name, parts, intrusions, spread.size) };
  }

  private compromise(i: number) {
    const d = this.devs[i]!;
    d.compromised = true;
    d.latentLeft = geometricLength(this.rng!, this.cfg.dwellSteps);
    d.noisyLeft = 0;
  }

  private alerts() {
    const c = this.cfg, rng = this.rng!;
    for (const d of this.devs) {
      const mon = d.monitoredLeft > 0;
      const p = d.compromised
        ? (mon ? c.monitoredTPR : d.latentLeft > 0 ? c.latentTPR : c.alertTPR)
        : (mon ? c.monitoredFPR : d.noisyLeft > 0 ? c.noiseFPR : c.alertFPR);
      d.alert = rng.bernoulli(p) ? 1 : 0;
      d.alertEwma = 0.7 * d.alertEwma + 0.3 * d.alert;
    }
  }

  private info(action: string | null, rewardParts: Record<string, number>, intrusions: number, spread: number): Info {
    const compromised = this.devs.map((d) => (d.compromised ? 1 : 0));
    return {
      site: this.site, compromised, latent: this.devs.map((d) => (d.compromised && d.latentLeft > 0 ? 1 : 0)),
      noisy: this.devs.map((d) => (d.noisyLeft > 0 ? 1 : 0)), nCompromised: compromised.reduce((a: number, b) => a + b, 0),
      intrusions, spread, action, rewardParts,
    };
  }

  private observe(): Float32Array {
    const n = this.cfg.devices;
    const o = new Float32Array(this.observationSize);
    this.devs.forEach((d, i) => {
      const b = i * PER;
      o[b] = d.alert;
      o[b + 1] = d.alertEwma;
      o[b + 2] = d.isolatedLeft > 0 ? 1 : 0;
      o[b + 3] = d.monitoredLeft > 0 ? 1 : 0;
      o[b + 4] = d.patchLeft > 0 ? 1 : d.immuneLeft > 0 ? 0.5 : 0;
      o[b + 5] = DEVICE_VALUE[this.types[i]!] / 3;
      o[b + 6] = n > 1 ? this.neighbours[i]!.length / (n - 1) : 0;
    });
    o[PER * n] = this.devs.filter((d) => d.isolatedLeft > 0).length / n;
    return o;
  }
}
