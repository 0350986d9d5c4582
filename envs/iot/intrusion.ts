/** IoTIntrusion-v0: flow-level intrusion response at one site's gateway. The spec (actions, rewards, observation fields, info) is envs/iot/README.md. */
import type { Env, Info, ResetOptions, ResetResult, StepResult } from "../types";
import { BENIGN, PROFILES, attackShare, familyPrior, type DatasetId, type DatasetProfile, type FamilyKind, type Source } from "./families";
import { Rng } from "./rng";
import { dirichletSplit, dirichletVolumes } from "./sites";
import {
  DEVICE_PRIOR, DEVICE_TYPES, FLOW_FEATURES, N_FLOW_FEATURES, SyntheticTraffic, syntheticScaler,
  type DeviceType, type Flow, type MinMaxScaler,
} from "./traffic";
import { loadDatasetSync, type LoadedDataset } from "./loaders";

export const ACTIONS = ["allow", "drop", "ratelimit", "isolate", "verify", "escalate"] as const;
export type IntrusionAction = (typeof ACTIONS)[number];
export const ALLOW = 0, DROP = 1, RATELIMIT = 2, ISOLATE = 3, VERIFY = 4, ESCALATE = 5;
const HIST = 3;
const BYTES_PER_S = FLOW_FEATURES.indexOf("bytes_per_s");

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
  /** while a campaign runs, probability that a flow is one of its malicious flows (raised per site when its share needs it, see planCampaigns) */
  attackIntensity: number;
  /** largest fraction of time a campaign may run (a site whose share needs more gets a higher intensity) */
  maxDuty: number;
  /** no site's malicious share exceeds this (≤ maxDuty); the excess of a site moves to the others */
  maxSiteShare: number;
  /** campaign flow budget (recon excluded), uniform integer in [lo, hi] */
  campaignFlows: [number, number];
  /** mean number of recon flows (geometric, at most 20) when an exploit/c2 campaign opens with a recon phase */
  reconFlows: number;
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
  devices: 8, attackIntensity: 0.5, maxDuty: 0.8, maxSiteShare: 0.6, campaignFlows: [15, 50], reconFlows: 4,
  ddosDevices: 3, isolationSteps: 15, rateLimitSteps: 10, verifyRevealProb: 0.7, verifiedSteps: 25, analystDelay: 3,
  alertTPR: 0.55, alertFPR: 0.04,
};

/** Longest recon phase, in flows. */
export const RECON_CAP = 20;

/**
 * How a site's campaigns are drawn so that, with no containment, its flows have the malicious
 * share `share` and the family mix `mix` in the long run (derivation in envs/iot/README.md):
 * one campaign at a time; a campaign of family f carries a budget of B̄ = mean(campaignFlows)
 * flows, and an exploit/c2 campaign opens with probability `reconProb` with a recon phase of
 * R̄ flows of the recon family (counted against that family's share). Campaign families are
 * drawn by `campaignMix` = mix with the recon family's share lowered by the recon phases.
 * While a campaign runs each flow is its own with probability `intensity` r, so a campaign of
 * F flows lasts F/r steps; between campaigns a new one starts with probability `startProb` λ
 * per step, and the long-run share is F / (F/r + 1/λ − 1), solved for λ.
 */
export interface CampaignPlan {
  share: number;
  campaignMix: number[];
  reconProb: number;
  /** expected malicious flows per campaign (budget plus recon phase) */
  flowsPerCampaign: number;
  intensity: number;
  startProb: number;
}

export function planCampaigns(families: readonly string[], kinds: Record<string, FamilyKind>, reconFamily: string | null,
  mix: readonly number[], share: number, dyn: IntrusionDynamicsConfig): CampaignPlan {
  const [lo, hi] = dyn.campaignFlows;
  const B = (lo + hi) / 2;
  const q = dyn.reconFlows / (dyn.reconFlows + 1);
  let R = 0;
  for (let j = 1, qj = q; j <= RECON_CAP; j++, qj *= q) R += qj; // E[min(Geometric, RECON_CAP)]
  const ri = reconFamily === null ? -1 : families.indexOf(reconFamily);
  const opensWithRecon = (f: string) => kinds[f] === "exploit" || kinds[f] === "c2";
  const mE = families.reduce((s, f, i) => s + (opensWithRecon(f) ? mix[i]! : 0), 0);
  const mR = ri >= 0 ? mix[ri]! : 0;
  const reconProb = ri < 0 || mE <= 0 || R <= 0 ? 0 : Math.min(1, (mR * B) / (R * mE));
  const F = B / (1 - (reconProb * R * mE) / B);
  const campaignMix = families.map((_, i) => (F * mix[i]!) / B);
  if (ri >= 0) campaignMix[ri] = Math.max(0, (F * mR - (reconProb * R * F * mE) / B) / B);
  const intensity = Math.min(1, Math.max(dyn.attackIntensity, share / dyn.maxDuty));
  const startProb = share > 0 ? 1 / (F / share - F / intensity + 1) : 0;
  return { share, campaignMix, reconProb, flowsPerCampaign: F, intensity, startProb };
}

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
  /**
   * pooled malicious share of the flows over the K sites, with no containment (default: the
   * dataset's, CIC-IDS2017 0.197, UNSW-NB15 0.1265). Each site's own share varies with α.
   */
  maliciousShare?: number;
  /** real sources: a dataset already loaded with loadDataset() (otherwise loaded synchronously from dataDir) */
  dataset?: LoadedDataset;
  /** real sources: root folder holding cic-ids2017/ and unsw-nb15/ (default "data") */
  dataDir?: string;
  /** real sources: draw rows from this split (default "train") */
  split?: "train" | "test";
  /** real sources loaded from dataDir: keep at most this many rows per family and split (seeded reservoir; default 50000) */
  maxPerFamily?: number;
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

/**
 * Rows an env keeps per family and split when it loads a dataset itself: bounds its memory on the
 * full files (2.8 M CIC-IDS2017 rows would be ~0.7 GB of flows per env). Families are drawn by
 * the site's mix, not by row counts, so the cap does not change the traffic mix.
 */
export const DEFAULT_MAX_PER_FAMILY = 50_000;

/** Option keys IoTIntrusion-v0 reads (launch/preflight.ts refuses others); `dataset` is for code only. */
export const INTRUSION_OPTION_KEYS = ["site", "sites", "alpha", "splitSeed", "source", "calibration", "maliciousShare",
  "dataDir", "split", "maxPerFamily", "seed", "reward", "dynamics"] as const;
const SOURCES: readonly Source[] = ["synthetic", "cic-ids2017", "unsw-nb15"];

/** Refuse keys a config section does not have, naming the valid ones (a typo must not pass silently). */
function checkKeys(section: string, given: object | undefined, valid: object): void {
  if (given === undefined) return;
  if (given === null || typeof given !== "object" || Array.isArray(given)) throw new Error(`${section} must be an object of { key: value }`);
  const bad = Object.keys(given).filter((k) => !(k in valid));
  if (bad.length) throw new Error(`${section}: unknown key${bad.length > 1 ? "s" : ""} ${bad.join(", ")}; valid: ${Object.keys(valid).join(", ")}`);
  for (const [k, v] of Object.entries(given)) {
    const want = (valid as Record<string, unknown>)[k];
    const ok = Array.isArray(want)
      ? Array.isArray(v) && v.length === want.length && v.every((x) => typeof x === "number" && Number.isFinite(x) && x >= 0)
      : typeof v === "number" && Number.isFinite(v) && v >= 0;
    if (!ok) throw new Error(`${section}.${k} must be ${Array.isArray(want) ? `[${want.map(() => "n").join(", ")}] of finite numbers ≥ 0` : "a finite number ≥ 0"}, got ${JSON.stringify(v)}`);
  }
}

interface Pending {
  flow: Flow;
  device: Device;
  alert: number;
  /** the flow's scaled bytes/s (set when it is observed; feeds gateway_load) */
  scaledBps: number;
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
    if (!this.byFamily.get(BENIGN)?.length) {
      const st = data.stats;
      const unknown = Object.entries(st.unknownLabels);
      const nUnknown = unknown.reduce((a, [, n]) => a + n, 0);
      throw new Error(`${data.dataset} ${split} split has no benign rows (${st.rows} data rows read from ${st.files.length} file(s)` +
        (nUnknown ? `, ${nUnknown} with labels not in ${data.dataset}, e.g. ${JSON.stringify(unknown[0]![0])}` : "") + `); check the files' label column`);
    }
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
  /** the site's mix over `families` among its malicious flows (what the flows show, recon phases included) */
  readonly familyMix: number[];
  /** this site's malicious share and the campaign parameters that produce it */
  readonly plan: CampaignPlan;
  /** device types of this site (fixed by splitSeed) */
  readonly deviceTypes: DeviceType[];
  readonly deviceMix: number[];
  readonly scaler: MinMaxScaler;

  private readonly synthetic: SyntheticTraffic | null;
  private readonly rows: RowSource | null;
  private readonly defaultSeed: number;
  private rng: Rng | null = null;
  private devices: Device[] = [];
  private campaign: Campaign | null = null;
  private escalations: { device: Device; due: number; malicious: boolean }[] = [];
  private t = 0;
  private queue = 0;
  private load = 0;
  private pending: Pending | null = null;

  constructor(options: IntrusionOptions = {}) {
    this.sites = options.sites ?? 5;
    this.site = options.site ?? 0;
    this.alpha = options.alpha ?? 0.3;
    if (!Number.isInteger(this.sites) || this.sites < 1) throw new RangeError(`sites must be a positive integer, got ${this.sites}`);
    if (!Number.isInteger(this.site) || this.site < 0 || this.site >= this.sites) {
      throw new RangeError(`site must be an integer in [0, ${this.sites}), got ${this.site}`);
    }
    if (!(typeof this.alpha === "number" && this.alpha > 0 && Number.isFinite(this.alpha))) throw new RangeError(`alpha must be a number > 0, got ${this.alpha}`);
    this.source = options.source ?? "synthetic";
    if (!SOURCES.includes(this.source)) throw new Error(`source must be one of ${SOURCES.join(", ")}, got ${JSON.stringify(this.source)}`);
    if (options.calibration !== undefined && !(options.calibration in PROFILES)) {
      throw new Error(`calibration must be one of ${Object.keys(PROFILES).join(", ")}, got ${JSON.stringify(options.calibration)}`);
    }
    if (options.split !== undefined && options.split !== "train" && options.split !== "test") throw new Error(`split must be "train" or "test", got ${JSON.stringify(options.split)}`);
    checkKeys("reward", options.reward, DEFAULT_INTRUSION_REWARD);
    checkKeys("dynamics", options.dynamics, DEFAULT_INTRUSION_DYNAMICS);
    this.reward = { ...DEFAULT_INTRUSION_REWARD, ...options.reward };
    this.dyn = { ...DEFAULT_INTRUSION_DYNAMICS, ...options.dynamics };
    const { campaignFlows: [lo, hi], maxDuty, maxSiteShare, devices } = this.dyn;
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && hi >= lo)) throw new RangeError(`dynamics.campaignFlows must be integers [lo, hi] with 1 ≤ lo ≤ hi, got [${lo}, ${hi}]`);
    if (!(Number.isInteger(devices) && devices >= 1)) throw new RangeError(`dynamics.devices must be a positive integer, got ${devices}`);
    if (!(maxDuty > 0 && maxDuty <= 1 && maxSiteShare > 0 && maxSiteShare <= maxDuty)) {
      throw new RangeError(`dynamics: need 0 < maxSiteShare ≤ maxDuty ≤ 1, got maxSiteShare ${maxSiteShare}, maxDuty ${maxDuty}`);
    }
    const splitSeed = options.splitSeed ?? 0;
    this.defaultSeed = options.seed ?? 1000 * splitSeed + this.site;

    if (this.source === "synthetic") {
      this.synthetic = new SyntheticTraffic(options.calibration ?? "cic-ids2017");
      this.profile = this.synthetic.profile;
      this.rows = null;
      this.scaler = syntheticScaler();
    } else {
      const cap = options.maxPerFamily ?? DEFAULT_MAX_PER_FAMILY;
      if (!(Number.isInteger(cap) && cap >= 1)) throw new RangeError(`maxPerFamily must be a positive integer, got ${JSON.stringify(cap)}`);
      const data = options.dataset ?? loadDatasetSync(this.source, `${options.dataDir ?? "data"}/${this.source}`, { maxPerFamily: cap });
      if (data.dataset !== this.source) throw new Error(`dataset option holds ${data.dataset}, source is ${this.source}`);
      this.synthetic = null;
      this.profile = PROFILES[this.source];
      this.rows = new RowSource(data, options.split ?? "train");
      this.scaler = data.scaler;
    }
    const prior = familyPrior(this.profile);
    this.families = this.profile.families.filter((f) => !this.rows || this.rows.has(f));
    if (this.families.length === 0) throw new Error(`no attack rows for ${this.profile.id}`);
    const share = options.maliciousShare ?? attackShare(this.profile);
    if (!(typeof share === "number" && share >= 0 && share <= maxSiteShare)) {
      throw new RangeError(`maliciousShare must be a number in [0, dynamics.maxSiteShare = ${maxSiteShare}], got ${JSON.stringify(share)}`);
    }
    const split = dirichletVolumes({
      sites: this.sites, alpha: this.alpha, seed: splitSeed, categories: this.families,
      prior: this.families.map((f) => prior[f] ?? 0), share, cap: maxSiteShare,
    });
    this.familyMix = split.mixes[this.site]!;
    const recon = this.families.includes(this.profile.reconFamily) ? this.profile.reconFamily : null;
    this.plan = planCampaigns(this.families, this.profile.kinds, recon, this.familyMix, split.shares[this.site]!, this.dyn);
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
    this.campaign = null;
    this.escalations = [];
    this.devices = this.deviceTypes.map((type, id) => ({
      id, type, isolatedLeft: 0, releasedAt: -Infinity, rateLimitLeft: 0, verified: -1, verifiedLeft: 0,
      escalationPending: 0, decisions: [], alerts: [], alertRate: 0, flowCount: 1, campaign: null,
    }));
    this.warmUp();
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
    this.load = 0.8 * this.load + 0.2 * (delivered ? this.pending.scaledBps : 0);
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
      if (c.devices.size === 0) this.campaign = null; // contained: the rest of its budget is never sent
    }
  }

  /**
   * Run the campaign process alone (no flows, no devices acting) for about five campaign
   * cycles, so an episode starts in its long-run state (possibly mid-campaign) rather than
   * always quiet — otherwise a 200-flow episode would show less than the planned share.
   */
  private warmUp() {
    const p = this.plan;
    const n = p.share > 0 ? Math.min(5000, Math.ceil((5 * p.flowsPerCampaign) / p.share)) : 0;
    for (let i = 0; i < n; i++) {
      this.maybeStartCampaign();
      if (this.campaign && this.rng!.bernoulli(p.intensity)) this.consumeCampaignFlow(this.campaign);
    }
  }

  private maybeStartCampaign() {
    const rng = this.rng!;
    if (this.campaign || !rng.bernoulli(this.plan.startProb)) return;
    const free = this.devices.filter((d) => d.isolatedLeft === 0 && !d.campaign);
    if (free.length === 0) return;
    const family = this.families[rng.categorical(this.plan.campaignMix)]!;
    const kind = this.profile.kinds[family] ?? "exploit";
    const n = family === "ddos" ? Math.min(this.dyn.ddosDevices, free.length) : 1;
    const chosen = new Set<number>();
    while (chosen.size < n) chosen.add(free[rng.int(free.length)]!.id);
    const [lo, hi] = this.dyn.campaignFlows;
    let reconLeft = 0;
    if ((kind === "exploit" || kind === "c2") && rng.bernoulli(this.plan.reconProb)) {
      const q = this.dyn.reconFlows / (this.dyn.reconFlows + 1);
      while (reconLeft < RECON_CAP && rng.next() < q) reconLeft++;
    }
    const c: Campaign = { family, kind, devices: chosen, reconLeft, flowsLeft: lo + rng.int(hi - lo + 1) };
    for (const id of chosen) this.devices[id]!.campaign = c;
    this.campaign = c;
  }

  /** One malicious flow of the campaign is sent: its family (recon first); ends the campaign when its budget is spent. */
  private consumeCampaignFlow(c: Campaign): string {
    let family = c.family;
    if (c.reconLeft > 0) { c.reconLeft--; family = this.profile.reconFamily; }
    else c.flowsLeft--;
    if (c.flowsLeft <= 0) {
      for (const id of c.devices) this.devices[id]!.campaign = null;
      this.campaign = null;
    }
    return family;
  }

  private tick() {
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
    this.maybeStartCampaign();
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
    const c = this.campaign;
    let flow: Flow;
    let device: Device;
    if (c && rng.bernoulli(this.plan.intensity)) {
      const ids = [...c.devices];
      device = this.devices[ids[rng.int(ids.length)]!]!;
      const family = this.consumeCampaignFlow(c);
      flow = this.synthetic ? this.synthetic.attack(rng, family) : this.rows!.draw(rng, family);
    } else {
      device = live[rng.int(live.length)]!;
      flow = this.synthetic ? this.synthetic.benign(rng, device.type) : this.rows!.draw(rng, BENIGN);
    }
    for (const d of this.devices) d.flowCount = 0.95 * d.flowCount + (d === device ? 1 : 0);
    const alert = rng.bernoulli(flow.malicious ? this.dyn.alertTPR : this.dyn.alertFPR) ? 1 : 0;
    return { flow, device, alert, scaledBps: 0 };
  }

  private observe(): Float32Array {
    const o = new Float32Array(INTRUSION_OBS_SIZE);
    const { flow, device: d, alert } = this.pending!;
    this.scaler.transformInto(flow.x, o, OBS.flow);
    this.pending!.scaledBps = o[OBS.flow + BYTES_PER_S]!;
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
