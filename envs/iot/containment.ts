/**
 * IoTContainment-v0 — a site's device network under spreading compromise.
 *
 * N devices (default 10) form a seeded connected graph (a random spanning tree plus extra
 * edges; gateways get extra links). At reset the attacker holds one foothold device. Each
 * step every compromised, non-isolated device tries to compromise each clean, non-isolated,
 * non-immune neighbour with the target type's probability (SPREAD_PROB). The defender sees
 * only noisy alerts (TPR/FPR; better while a device is monitored).
 *
 * Actions: 1 + 3N discrete (N = devices): 0 = do nothing; 1 + 3i + k acts on device i with
 * k = 0 monitor (sharper alerts for `monitorSteps`), 1 isolate (for `isolationSteps`: it can
 * neither spread nor be infected, and its service is lost), 2 patch-and-restore (device down
 * for `patchSteps`, then clean and immune for `immuneSteps`).
 *
 * Reward per step: −compromiseWeight·Σ value(compromised) − availabilityWeight·Σ value(isolated
 * or under patch) − action cost. Episode terminates when no device is compromised (after the
 * spread of that step); TimeLimit (maxEpisodeSteps 100 in the registry) truncates.
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
 * Info: `compromised` (0/1 per device), `nCompromised`, `site`, `action` name, `rewardParts`.
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
  alertTPR: number;
  alertFPR: number;
  monitoredTPR: number;
  monitoredFPR: number;
}

export const DEFAULT_CONTAINMENT: ContainmentConfig = {
  devices: 10, extraEdges: 5, compromiseWeight: 0.2, availabilityWeight: 0.1, monitorCost: 0.02,
  isolateCost: 0.1, patchCost: 0.3, monitorSteps: 5, isolationSteps: 8, patchSteps: 2, immuneSteps: 10,
  alertTPR: 0.4, alertFPR: 0.05, monitoredTPR: 0.9, monitoredFPR: 0.02,
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

interface Dev {
  compromised: boolean;
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
    this.cfg = { ...DEFAULT_CONTAINMENT, ...(rest as Partial<ContainmentConfig>) };
    for (const k of Object.keys(this.cfg) as (keyof ContainmentConfig)[]) {
      if (!(k in DEFAULT_CONTAINMENT)) delete this.cfg[k];
    }
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
    this.devs = Array.from({ length: n }, () => ({ compromised: false, isolatedLeft: 0, monitoredLeft: 0, patchLeft: 0,
      immuneLeft: 0, alert: 0, alertEwma: 0 }));
    this.devs[this.rng.int(n)]!.compromised = true;
    this.started = true;
    this.alerts();
    return { obs: this.observe(), info: this.info(null, {}) };
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
    // spread (from devices that are up and not isolated, to such devices)
    const active = (d: Dev) => d.isolatedLeft === 0 && d.patchLeft === 0;
    const newly: number[] = [];
    this.devs.forEach((d, i) => {
      if (!d.compromised || !active(d)) return;
      for (const j of this.neighbours[i]!) {
        const t = this.devs[j]!;
        if (!t.compromised && active(t) && t.immuneLeft === 0 && rng.bernoulli(SPREAD_PROB[this.types[j]!])) newly.push(j);
      }
    });
    for (const j of newly) this.devs[j]!.compromised = true;
    // timers; a finished patch restores the device
    for (const d of this.devs) {
      if (d.patchLeft > 0 && --d.patchLeft === 0) { d.compromised = false; d.immuneLeft = c.immuneSteps; }
      else if (d.immuneLeft > 0) d.immuneLeft--;
      if (d.isolatedLeft > 0) d.isolatedLeft--;
      if (d.monitoredLeft > 0) d.monitoredLeft--;
    }
    let compromisedValue = 0, unavailable = 0;
    this.devs.forEach((d, i) => {
      const v = DEVICE_VALUE[this.types[i]!];
      if (d.compromised) compromisedValue += v;
      if (d.isolatedLeft > 0 || d.patchLeft > 0) unavailable += v;
    });
    const parts = { compromise: -c.compromiseWeight * compromisedValue, availability: -c.availabilityWeight * unavailable, action: -actionCost };
    this.alerts();
    const terminated = this.devs.every((d) => !d.compromised);
    return { obs: this.observe(), reward: parts.compromise + parts.availability + parts.action, terminated, truncated: false,
      info: this.info(name, parts) };
  }

  private alerts() {
    const c = this.cfg, rng = this.rng!;
    for (const d of this.devs) {
      const mon = d.monitoredLeft > 0;
      const p = d.compromised ? (mon ? c.monitoredTPR : c.alertTPR) : (mon ? c.monitoredFPR : c.alertFPR);
      d.alert = rng.bernoulli(p) ? 1 : 0;
      d.alertEwma = 0.7 * d.alertEwma + 0.3 * d.alert;
    }
  }

  private info(action: string | null, rewardParts: Record<string, number>): Info {
    const compromised = this.devs.map((d) => (d.compromised ? 1 : 0));
    return { site: this.site, compromised, nCompromised: compromised.reduce((a: number, b) => a + b, 0), action, rewardParts };
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
