/** IoTIntrusion-v0: flow-level intrusion response at one site's gateway. The spec (actions, rewards, observation fields, info) is envs/iot/README.md. */
import type { Env, Info, ResetOptions, ResetResult, StepResult } from "../types";
import { BENIGN, PROFILES, familyPrior, type DatasetId, type DatasetProfile, type FamilyKind, type Source } from "./families";
import { Rng } from "./rng";
import { dirichletSplit } from "./sites";
import {
  DEVICE_PRIOR, DEVICE_TYPES, FLOW_FEATURES, N_FLOW_FEATURES, SyntheticTraffic, syntheticScaler,
  type DeviceType, type Flow, type MinMaxScaler,
} from "./traffic";
import { loadDatasetSync, type LoadedDataset } from "./loaders";

export const ACTIONS = ["allow", "drop", "ratelimit", "isolate", "verify", "escalate"] as const;
export type IntrusionAction = (typeof ACTIONS)[number];
export const ALLOW = 0, DROP = 1, RATELIMIT = 2, ISOLATE = 3, VERIFY = 4, ESCALATE = 5;
const HIST = 3;

export const INTRUSION_OBS_FIELDS: readonly string[] = [
  ...FLOW_FEATURES.map((f) => `flow.${f}`),
  ...DEVICE_TYPES.map((t) => `dev_type.${t}`),
  "dev_rate_limited", "dev_rate_limit_left", "dev_recently_released",
  "dev_verified_malicious", "dev_verified_benign", "dev_escalation_pending",
  ...Array.from({ length: HIST }, (_, i) => `hist_decision_${i + 1}`),
  ...Array.from({ length: HIST }, (_, i) => `hist_alert_${i + 1}`),
  "ids_alert", "dev_alert_rate", "dev_flow_share",
  "gateway_queue", "gateway_load", "isolated_fraction",
];
export const INTRUSION_OBS_SIZE = INTRUSION_OBS_FIELDS.length;
/** Offsets of named blocks, for policies that read the observation. */
export const OBS = {
  flow: 0, devType: N_FLOW_FEATURES, rateLimited: 20, rateLimitLeft: 21, recentlyReleased: 22,
  verifiedMalicious: 23, verifiedBenign: 24, escalationPending: 25, histDecision: 26, histAlert: 29,
  alert: 32, devAlertRate: 33, devFlowShare: 34, queue: 35, load: 36, isolatedFraction: 37,
} as const;

/** Reward weights (all ≥ 0; signs are applied by the env). */
export interface IntrusionRewardConfig {
  /** blocking/containing one malicious flow */
  tp: number;
  /** blocking one benign flow (drop, isolate) */
  fp: number;
  /** multiplies the family severity (families.ts) of each delivered malicious flow */
  damageScale: number;
  stepCost: number;
  verifyCost: number;
  escalateCost: number;
  /** benign flow held by an analyst */
  escalateBenignCost: number;
  /** one-off cost of isolating a device */
  isolateCost: number;
  /** per isolated device per step (its benign service is lost) */
  isolationDowntime: number;
  /** per benign flow delivered while rate-limited */
  rateLimitServiceCost: number;
  /** share of damage a rate limit prevents (and of tp it earns) */
  rateLimitCut: number;
  /** × max(0, queue − 0.5) per step */
  queueCost: number;
}

export const DEFAULT_INTRUSION_REWARD: IntrusionRewardConfig = {
  tp: 1.0, fp: 1.0, damageScale: 1.0, stepCost: 0.01, verifyCost: 0.1, escalateCost: 0.3,
  escalateBenignCost: 0.2, isolateCost: 0.2, isolationDowntime: 0.03, rateLimitServiceCost: 0.15,
  rateLimitCut: 0.6, queueCost: 0.5,
};

export interface IntrusionDynamicsConfig {
  devices: number;
  /** probability per step that a new campaign starts (when fewer than maxCampaigns run) */
  campaignRate: number;
  maxCampaigns: number;
  /** campaign flow budget, uniform integer in [lo, hi] */
  campaignFlows: [number, number];
  /** mean number of recon flows before an exploit/c2 campaign (geometric) */
  reconFlows: number;
  /** probability that a flow from a compromised device is malicious */
  maliciousShare: number;
  /** sampling weight of a compromised device (flood kinds get floodWeight) */
  campaignWeight: number;
  floodWeight: number;
  ddosDevices: number;
  isolationSteps: number;
  rateLimitSteps: number;
  verifyRevealProb: number;
  verifiedSteps: number;
  analystDelay: number;
  alertTPR: number;
  alertFPR: number;
}

export const DEFAULT_INTRUSION_DYNAMICS: IntrusionDynamicsConfig = {
  devices: 8, campaignRate: 0.03, maxCampaigns: 2, campaignFlows: [15, 50], reconFlows: 4,
  maliciousShare: 0.8, campaignWeight: 2, floodWeight: 4, ddosDevices: 3, isolationSteps: 15,
  rateLimitSteps: 10, verifyRevealProb: 0.7, verifiedSteps: 25, analystDelay: 3, alertTPR: 0.55, alertFPR: 0.04,
};

export interface IntrusionOptions {
  /** this env's site index in [0, sites) (default 0) */
  site?: number;
  /** number of federated sites K (default 5) */
  sites?: number;
  /** Dirichlet concentration of the non-IID split (default 0.3) */
  alpha?: number;
  /** seed of the site partition and the sites' device populations; identical for every site of a run (default 0) */
  splitSeed?: number;
  /** traffic source (default "synthetic") */
  source?: Source;
  /** synthetic only: which dataset's class mix to mimic (default "cic-ids2017") */
  calibration?: DatasetId;
  /** real sources: a dataset already loaded with loadDataset() (otherwise loaded synchronously from dataDir) */
  dataset?: LoadedDataset;
  /** real sources: root folder holding cic-ids2017/ and unsw-nb15/ (default "data") */
  dataDir?: string;
  /** real sources: draw rows from this split (default "train") */
  split?: "train" | "test";
  /** episode seed used when reset() is called without one */
  seed?: number;
  reward?: Partial<IntrusionRewardConfig>;
  dynamics?: Partial<IntrusionDynamicsConfig>;
}

interface Device {
  id: number;
  type: DeviceType;
  isolatedLeft: number;
  releasedAt: number; // step the device last left isolation (-inf: never)
  rateLimitLeft: number;
  verified: -1 | 0 | 1;
  verifiedLeft: number;
  escalationPending: number;
  decisions: number[]; // newest first, (a+1)/6
  alerts: number[];
  alertRate: number;
  flowCount: number; // EWMA count
  campaign: Campaign | null;
}

interface Campaign {
  family: string;
  kind: FamilyKind;
  devices: Set<number>;
  reconLeft: number;
  flowsLeft: number;
}

interface Pending {
  flow: Flow;
  device: Device;
  alert: number;
}

/** Flows for a real source: rows of the chosen split by family. */
class RowSource {
  readonly byFamily = new Map<string, Flow[]>();
  constructor(readonly data: LoadedDataset, split: "train" | "test") {
    for (const f of data[split]) {
      let a = this.byFamily.get(f.family);
      if (!a) this.byFamily.set(f.family, (a = []));
      a.push(f);
    }
    if (!this.byFamily.get(BENIGN)?.length) throw new Error(`${data.dataset} ${split} split has no benign rows`);
  }
  has(family: string) {
    return (this.byFamily.get(family)?.length ?? 0) > 0;
  }
  draw(rng: Rng, family: string): Flow {
    const a = this.byFamily.get(family)!;
    return a[rng.int(a.length)]!;
  }
}

export class IoTIntrusionEnv implements Env {
  readonly id = "IoTIntrusion-v0";
  readonly observationSize = INTRUSION_OBS_SIZE;
  readonly actionCount = ACTIONS.length;
  readonly site: number;
  readonly sites: number;
  readonly alpha: number;
  readonly source: Source;
  readonly profile: DatasetProfile;
  readonly reward: IntrusionRewardConfig;
  readonly dyn: IntrusionDynamicsConfig;
  /** attack families this site can see, and its mix over them */
  readonly families: string[];
  readonly familyMix: number[];
  /** device types of this site (fixed by splitSeed) */
  readonly deviceTypes: DeviceType[];
  readonly deviceMix: number[];
  readonly scaler: MinMaxScaler;

  private readonly synthetic: SyntheticTraffic | null;
  private readonly rows: RowSource | null;
  private readonly defaultSeed: number;
  private rng: Rng | null = null;
  private devices: Device[] = [];
  private campaigns: Campaign[] = [];
  private escalations: { device: Device; due: number; malicious: boolean }[] = [];
  private t = 0;
  private queue = 0;
  private load = 0;
  private pending: Pending | null = null;

  constructor(options: IntrusionOptions = {}) {
    this.sites = options.sites ?? 5;
    this.site = options.site ?? 0;
    this.alpha = options.alpha ?? 0.3;
    if (!Number.isInteger(this.site) || this.site < 0 || this.site >= this.sites) {
      throw new RangeError(`site must be an integer in [0, ${this.sites}), got ${this.site}`);
    }
    this.source = options.source ?? "synthetic";
    this.reward = { ...DEFAULT_INTRUSION_REWARD, ...options.reward };
    this.dyn = { ...DEFAULT_INTRUSION_DYNAMICS, ...options.dynamics };
    const splitSeed = options.splitSeed ?? 0;
    this.defaultSeed = options.seed ?? 1000 * splitSeed + this.site;

    if (this.source === "synthetic") {
      this.synthetic = new SyntheticTraffic(options.calibration ?? "cic-ids2017");
      this.profile = this.synthetic.profile;
      this.rows = null;
      this.scaler = syntheticScaler();
    } else {
      const data = options.dataset ?? loadDatasetSync(this.source, `${options.dataDir ?? "data"}/${this.source}`);
      if (data.dataset !== this.source) throw new Error(`dataset option holds ${data.dataset}, source is ${this.source}`);
      this.synthetic = null;
      this.profile = PROFILES[this.source];
      this.rows = new RowSource(data, options.split ?? "train");
      this.scaler = data.scaler;
    }
    const prior = familyPrior(this.profile);
    this.families = this.profile.families.filter((f) => !this.rows || this.rows.has(f));
    if (this.families.length === 0) throw new Error(`no attack rows for ${this.profile.id}`);
    this.familyMix = dirichletSplit({
      sites: this.sites, alpha: this.alpha, seed: splitSeed, categories: this.families,
      prior: this.families.map((f) => prior[f] ?? 0),
    })[this.site]!;
    this.deviceMix = dirichletSplit({
      sites: this.sites, alpha: this.alpha, seed: splitSeed + 0x51ed, categories: DEVICE_TYPES,
      prior: DEVICE_TYPES.map((d) => DEVICE_PRIOR[d]),
    })[this.site]!;
    const popRng = new Rng((splitSeed * 7919 + this.site * 104729 + 17) >>> 0);
    this.deviceTypes = Array.from({ length: this.dyn.devices }, () => DEVICE_TYPES[popRng.categorical(this.deviceMix)]!);
  }

  reset(options: ResetOptions = {}): ResetResult {
    if (options.seed !== undefined) this.rng = new Rng(options.seed);
    else if (!this.rng) this.rng = new Rng(this.defaultSeed);
    this.t = 0;
    this.queue = 0;
    this.load = 0;
    this.campaigns = [];
    this.escalations = [];
    this.devices = this.deviceTypes.map((type, id) => ({
      id, type, isolatedLeft: 0, releasedAt: -Infinity, rateLimitLeft: 0, verified: -1, verifiedLeft: 0,
      escalationPending: 0, decisions: [], alerts: [], alertRate: 0, flowCount: 1, campaign: null,
    }));
    this.pending = this.nextFlow();
    return { obs: this.observe(), info: { site: this.site, current: this.truth(this.pending) } };
  }

  step(action: number): StepResult {
    if (!this.pending || !this.rng) throw new Error("IoTIntrusion-v0: call reset() before step()");
    if (!Number.isInteger(action) || action < 0 || action >= ACTIONS.length) {
      throw new RangeError(`action must be an integer in [0, ${ACTIONS.length}), got ${action}`);
    }
    const rng = this.rng;
    const R = this.reward;
    const { flow, device } = this.pending;
    const acted = this.truth(this.pending);
    const mal = flow.malicious === 1;
    const kind = this.profile.kinds[flow.family] ?? "benign";
    const severity = mal ? (this.profile.severity[flow.family] ?? 1) * R.damageScale : 0;
    const parts = { tp: 0, fp: 0, damage: 0, service: 0, actionCost: 0, downtime: 0, queue: 0, step: -R.stepCost };

    // 1. consequences for this flow
    let delivered = 0; // 1 = delivered, rl = delivered under rate limit
    let rateLimited = device.rateLimitLeft > 0;
    const block = () => { if (mal) parts.tp += R.tp; else parts.fp -= R.fp; };
    switch (action) {
      case ALLOW:
        delivered = 1;
        break;
      case DROP:
        block();
        break;
      case RATELIMIT:
        device.rateLimitLeft = this.dyn.rateLimitSteps;
        rateLimited = true;
        delivered = 1;
        break;
      case ISOLATE:
        block();
        parts.actionCost -= R.isolateCost;
        this.isolate(device);
        break;
      case VERIFY: {
        parts.actionCost -= R.verifyCost;
        if (rng.bernoulli(this.dyn.verifyRevealProb)) {
          device.verified = mal ? 1 : 0;
          device.verifiedLeft = this.dyn.verifiedSteps;
          if (mal) parts.tp += R.tp;
          else delivered = 1;
        } else delivered = 1;
        break;
      }
      case ESCALATE:
        parts.actionCost -= R.escalateCost;
        if (mal) parts.tp += R.tp;
        else parts.service -= R.escalateBenignCost;
        device.escalationPending++;
        this.escalations.push({ device, due: this.t + this.dyn.analystDelay, malicious: device.campaign !== null });
        break;
    }
    if (delivered) {
      if (rateLimited) {
        if (mal) { parts.damage -= severity * (1 - R.rateLimitCut); parts.tp += R.tp * R.rateLimitCut; }
        else parts.service -= R.rateLimitServiceCost;
      } else if (mal) parts.damage -= severity;
    }

    // 2. gateway queue and load
    const inflow = mal && kind === "flood" ? (delivered ? (rateLimited ? 0.04 : 0.1) : 0.01) : 0.004;
    this.queue = Math.min(1, Math.max(0, 0.9 * this.queue + inflow));
    const scaledBps = this.scaler.transform(flow.x)[7]!;
    this.load = 0.8 * this.load + 0.2 * (delivered ? scaledBps : 0);
    parts.queue -= R.queueCost * Math.max(0, this.queue - 0.5);

    // 3. device history
    device.decisions.unshift((action + 1) / 6);
    device.decisions.length = Math.min(device.decisions.length, HIST);
    device.alerts.unshift(this.pending.alert);
    device.alerts.length = Math.min(device.alerts.length, HIST);

    // 4. advance time, then present the next flow
    this.t++;
    this.tick();
    parts.downtime -= R.isolationDowntime * this.devices.filter((d) => d.isolatedLeft > 0).length;
    this.pending = this.nextFlow();
    const reward = parts.tp + parts.fp + parts.damage + parts.service + parts.actionCost + parts.downtime + parts.queue + parts.step;
    const info: Info = { ...acted, action: ACTIONS[action], current: this.truth(this.pending), rewardParts: parts };
    return { obs: this.observe(), reward, terminated: false, truncated: false, info };
  }

  // ---------------------------------------------------------------- internals

  private truth(p: Pending) {
    return {
      label: p.flow.malicious, family: p.flow.family, datasetLabel: p.flow.label,
      deviceId: p.device.id, deviceType: p.device.type, site: this.site, alert: p.alert,
    };
  }

  private isolate(d: Device) {
    d.isolatedLeft = this.dyn.isolationSteps;
    const c = d.campaign;
    if (c) {
      c.devices.delete(d.id);
      d.campaign = null;
      if (c.devices.size === 0) this.campaigns = this.campaigns.filter((x) => x !== c);
    }
  }

  private tick() {
    const rng = this.rng!;
    for (const d of this.devices) {
      if (d.isolatedLeft > 0 && --d.isolatedLeft === 0) d.releasedAt = this.t;
      if (d.rateLimitLeft > 0) d.rateLimitLeft--;
      if (d.verifiedLeft > 0 && --d.verifiedLeft === 0) d.verified = -1;
    }
    const due = this.escalations.filter((e) => e.due <= this.t);
    this.escalations = this.escalations.filter((e) => e.due > this.t);
    for (const e of due) {
      e.device.escalationPending--;
      e.device.verified = e.malicious ? 1 : 0;
      e.device.verifiedLeft = this.dyn.verifiedSteps;
      if (e.malicious && e.device.campaign && e.device.isolatedLeft === 0) this.isolate(e.device);
    }
    // new campaign
    if (this.campaigns.length < this.dyn.maxCampaigns && rng.bernoulli(this.dyn.campaignRate)) {
      const free = this.devices.filter((d) => d.isolatedLeft === 0 && !d.campaign);
      if (free.length > 0) {
        const family = this.families[rng.categorical(this.familyMix)]!;
        const kind = this.profile.kinds[family] ?? "exploit";
        const n = family === "ddos" ? Math.min(this.dyn.ddosDevices, free.length) : 1;
        const chosen = new Set<number>();
        while (chosen.size < n) chosen.add(free[rng.int(free.length)]!.id);
        const [lo, hi] = this.dyn.campaignFlows;
        const recon = this.profile.reconFamily;
        const hasRecon = (kind === "exploit" || kind === "c2") && (!this.rows || this.rows.has(recon)) && this.families.includes(recon);
        let reconLeft = 0;
        if (hasRecon) while (reconLeft < 20 && rng.next() > 1 / (this.dyn.reconFlows + 1)) reconLeft++;
        const c: Campaign = { family, kind, devices: chosen, reconLeft, flowsLeft: lo + rng.int(hi - lo + 1) };
        for (const id of chosen) this.devices[id]!.campaign = c;
        this.campaigns.push(c);
      }
    }
  }

  private nextFlow(): Pending {
    const rng = this.rng!;
    let live = this.devices.filter((d) => d.isolatedLeft === 0);
    if (live.length === 0) {
      // never leave the site without traffic: release the device closest to release
      const d = this.devices.reduce((a, b) => (b.isolatedLeft < a.isolatedLeft ? b : a));
      d.isolatedLeft = 0;
      d.releasedAt = this.t;
      live = [d];
    }
    const w = live.map((d) => 1 + (d.campaign ? (d.campaign.kind === "flood" ? this.dyn.floodWeight : this.dyn.campaignWeight) : 0));
    const device = live[rng.categorical(w)]!;
    for (const d of this.devices) d.flowCount = 0.95 * d.flowCount + (d === device ? 1 : 0);
    let flow: Flow;
    const c = device.campaign;
    if (c && rng.bernoulli(this.dyn.maliciousShare)) {
      const family = c.reconLeft > 0 ? this.profile.reconFamily : c.family;
      if (c.reconLeft > 0) c.reconLeft--;
      else c.flowsLeft--;
      flow = this.synthetic ? this.synthetic.attack(rng, family) : this.rows!.draw(rng, family);
      if (c.flowsLeft <= 0) {
        for (const id of c.devices) this.devices[id]!.campaign = null;
        this.campaigns = this.campaigns.filter((x) => x !== c);
      }
    } else {
      flow = this.synthetic ? this.synthetic.benign(rng, device.type) : this.rows!.draw(rng, BENIGN);
    }
    const alert = rng.bernoulli(flow.malicious ? this.dyn.alertTPR : this.dyn.alertFPR) ? 1 : 0;
    return { flow, device, alert };
  }

  private observe(): Float32Array {
    const o = new Float32Array(INTRUSION_OBS_SIZE);
    const { flow, device: d, alert } = this.pending!;
    this.scaler.transformInto(flow.x, o, OBS.flow);
    o[OBS.devType + DEVICE_TYPES.indexOf(d.type)] = 1;
    o[OBS.rateLimited] = d.rateLimitLeft > 0 ? 1 : 0;
    o[OBS.rateLimitLeft] = d.rateLimitLeft / this.dyn.rateLimitSteps;
    o[OBS.recentlyReleased] = Math.max(0, 1 - (this.t - d.releasedAt) / this.dyn.isolationSteps);
    o[OBS.verifiedMalicious] = d.verified === 1 ? 1 : 0;
    o[OBS.verifiedBenign] = d.verified === 0 ? 1 : 0;
    o[OBS.escalationPending] = d.escalationPending > 0 ? 1 : 0;
    for (let i = 0; i < HIST; i++) {
      o[OBS.histDecision + i] = d.decisions[i] ?? 0;
      o[OBS.histAlert + i] = d.alerts[i] ?? 0;
    }
    o[OBS.alert] = alert;
    d.alertRate = 0.8 * d.alertRate + 0.2 * alert;
    o[OBS.devAlertRate] = d.alertRate;
    const total = this.devices.reduce((s, x) => s + x.flowCount, 0);
    o[OBS.devFlowShare] = total > 0 ? d.flowCount / total : 0;
    o[OBS.queue] = this.queue;
    o[OBS.load] = this.load;
    o[OBS.isolatedFraction] = this.devices.filter((x) => x.isolatedLeft > 0).length / this.devices.length;
    return o;
  }
}
