/**
 * Canonical flow features, the min-max scaler, and the seeded synthetic traffic generator.
 *
 * Both public datasets are projected onto the same 14 canonical features (raw units below),
 * so the envs' observation layout does not depend on the source.
 *
 * | # | name          | unit      | transform | CIC-IDS2017 column(s)                   | UNSW-NB15 column(s)        |
 * |---|---------------|-----------|-----------|-----------------------------------------|----------------------------|
 * | 0 | duration_ms   | ms        | log1p     | Flow Duration (µs) / 1000               | dur (s) × 1000             |
 * | 1 | fwd_pkts      | packets   | log1p     | Total Fwd Packets                       | spkts                      |
 * | 2 | bwd_pkts      | packets   | log1p     | Total Backward Packets                  | dpkts                      |
 * | 3 | fwd_bytes     | bytes     | log1p     | Total Length of Fwd Packets             | sbytes                     |
 * | 4 | bwd_bytes     | bytes     | log1p     | Total Length of Bwd Packets             | dbytes                     |
 * | 5 | pkt_len_mean  | bytes     | linear    | Packet Length Mean                      | (sbytes+dbytes)/(spkts+dpkts) |
 * | 6 | pkt_len_std   | bytes     | linear    | Packet Length Std                       | two-point std of smean/dmean |
 * | 7 | bytes_per_s   | B/s       | log1p     | Flow Bytes/s (Inf/NaN → recomputed)     | (sbytes+dbytes)/dur        |
 * | 8 | pkts_per_s    | pkt/s     | log1p     | Flow Packets/s (Inf/NaN → recomputed)   | rate                       |
 * | 9 | iat_mean_ms   | ms        | log1p     | Flow IAT Mean (µs) / 1000               | sinpkt (ms)                |
 * |10 | syn_count     | flags     | log1p     | SYN Flag Count                          | 1 if synack > 0 else 0     |
 * |11 | ttl           | hops      | linear    | — (absent: 0)                           | sttl                       |
 * |12 | dst_port      | port      | linear    | Destination Port                        | — (absent: 0)              |
 * |13 | is_tcp        | 0/1       | linear    | 1 if any TCP flag count > 0 or Init_Win_bytes_forward > 0 | proto == "tcp" |
 */
import { z } from "zod";
import { BENIGN, PROFILES, type DatasetId, type DatasetProfile } from "./families";
import type { Rng } from "./rng";

export const FLOW_FEATURES = [
  "duration_ms", "fwd_pkts", "bwd_pkts", "fwd_bytes", "bwd_bytes", "pkt_len_mean", "pkt_len_std",
  "bytes_per_s", "pkts_per_s", "iat_mean_ms", "syn_count", "ttl", "dst_port", "is_tcp",
] as const;
export type FlowFeature = (typeof FLOW_FEATURES)[number];
export const N_FLOW_FEATURES = FLOW_FEATURES.length;

export type Transform = "log1p" | "linear";
export const FEATURE_TRANSFORMS: Transform[] = [
  "log1p", "log1p", "log1p", "log1p", "log1p", "linear", "linear",
  "log1p", "log1p", "log1p", "log1p", "linear", "linear", "linear",
];

/** One flow: canonical raw features plus ground truth. */
export interface Flow {
  x: Float64Array;
  label: string;
  family: string;
  malicious: 0 | 1;
}

// ---------------------------------------------------------------- scaler

export const ScalerSchema = z.object({
  kind: z.literal("minmax"),
  features: z.array(z.string()),
  transforms: z.array(z.enum(["log1p", "linear"])),
  /** per feature, in transformed space */
  min: z.array(z.number()),
  max: z.array(z.number()),
  /** how the scaler was fitted (e.g. "cic-ids2017 train split, 1234 rows") */
  fittedOn: z.string(),
  /** categorical vocabularies fitted alongside (UNSW-NB15 proto/service/state) */
  categories: z.record(z.string(), z.array(z.string())).optional(),
});
export type ScalerJSON = z.infer<typeof ScalerSchema>;

const tf = (t: Transform, v: number) => (t === "log1p" ? Math.log1p(Math.max(0, v)) : v);

/**
 * Min-max scaler on transformed features. `transform` maps into [0, 1] and clips values
 * outside the fitted range; a constant feature (max == min) maps to 0. Serialise with
 * `toJSON()` / `MinMaxScaler.fromJSON()` to store it with a run.
 */
export class MinMaxScaler {
  constructor(readonly json: ScalerJSON) {
    if (json.min.length !== json.features.length || json.max.length !== json.features.length) {
      throw new Error("scaler: min/max length must equal the feature count");
    }
  }

  static fit(rows: Iterable<ArrayLike<number>>, fittedOn: string, transforms: Transform[] = FEATURE_TRANSFORMS,
    features: readonly string[] = FLOW_FEATURES): MinMaxScaler {
    const d = features.length;
    const min = new Array<number>(d).fill(Infinity);
    const max = new Array<number>(d).fill(-Infinity);
    let n = 0;
    for (const r of rows) {
      n++;
      for (let j = 0; j < d; j++) {
        const v = tf(transforms[j]!, r[j]!);
        if (!Number.isFinite(v)) continue;
        if (v < min[j]!) min[j] = v;
        if (v > max[j]!) max[j] = v;
      }
    }
    for (let j = 0; j < d; j++) if (!Number.isFinite(min[j]!)) { min[j] = 0; max[j] = 0; }
    return new MinMaxScaler({ kind: "minmax", features: [...features], transforms: [...transforms], min, max,
      fittedOn: `${fittedOn}, ${n} rows` });
  }

  static fromJSON(data: unknown): MinMaxScaler {
    return new MinMaxScaler(ScalerSchema.parse(typeof data === "string" ? JSON.parse(data) : data));
  }

  toJSON(): ScalerJSON {
    return this.json;
  }

  /** Features whose fitted range is empty (constant on the fitting data). */
  constantFeatures(): string[] {
    return this.json.features.filter((_, j) => this.json.max[j] === this.json.min[j]);
  }

  transformInto(x: ArrayLike<number>, out: Float32Array, offset = 0): void {
    const { min, max, transforms } = this.json;
    for (let j = 0; j < min.length; j++) {
      const lo = min[j]!, hi = max[j]!;
      const v = tf(transforms[j]!, x[j]!);
      let s = hi > lo ? (v - lo) / (hi - lo) : 0;
      if (!(s > 0)) s = 0; // also maps NaN to 0
      else if (s > 1) s = 1;
      out[offset + j] = s;
    }
  }

  transform(x: ArrayLike<number>): Float32Array {
    const out = new Float32Array(this.json.min.length);
    this.transformInto(x, out);
    return out;
  }
}

/** Fixed physical ranges used to scale synthetic traffic (no fitting needed, identical for every run). */
export const SYNTHETIC_RANGES: Record<FlowFeature, number> = {
  duration_ms: 120_000, fwd_pkts: 20_000, bwd_pkts: 20_000, fwd_bytes: 3e7, bwd_bytes: 3e7,
  pkt_len_mean: 1500, pkt_len_std: 1000, bytes_per_s: 1e9, pkts_per_s: 2e6, iat_mean_ms: 60_000,
  syn_count: 50, ttl: 255, dst_port: 65535, is_tcp: 1,
};
export function syntheticScaler(): MinMaxScaler {
  return new MinMaxScaler({
    kind: "minmax", features: [...FLOW_FEATURES], transforms: [...FEATURE_TRANSFORMS],
    min: FLOW_FEATURES.map(() => 0),
    max: FLOW_FEATURES.map((f, j) => tf(FEATURE_TRANSFORMS[j]!, SYNTHETIC_RANGES[f])),
    fittedOn: "synthetic physical ranges",
  });
}

// ---------------------------------------------------------------- synthetic generator

export const DEVICE_TYPES = ["camera", "thermostat", "smart_plug", "sensor_hub", "plc", "gateway"] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];
/** Share of each device type in an average site (before the non-IID split). */
export const DEVICE_PRIOR: Record<DeviceType, number> = {
  camera: 0.2, thermostat: 0.15, smart_plug: 0.25, sensor_hub: 0.2, plc: 0.1, gateway: 0.1,
};

type LN = readonly [median: number, sigma: number];
/** Distribution of one traffic class; lengths in bytes, duration in ms. */
interface FlowSpec {
  dur: LN; fwd: LN; bwd: LN; fwdLen: LN; bwdLen: LN;
  /** mean SYN flags per flow (TCP flows) */
  syn: number;
  ttl: readonly number[];
  /** destination ports to choose from; empty = random high port */
  ports: readonly number[];
  tcp: number;
}

/** Benign traffic of each device type. */
export const DEVICE_PROFILES: Record<DeviceType, FlowSpec> = {
  camera: { dur: [20000, 1.0], fwd: [300, 1.0], bwd: [60, 1.0], fwdLen: [900, 0.35], bwdLen: [80, 0.5], syn: 1, ttl: [64, 64, 128], ports: [554, 443, 8000], tcp: 0.9 },
  thermostat: { dur: [800, 1.1], fwd: [8, 0.6], bwd: [6, 0.6], fwdLen: [150, 0.5], bwdLen: [300, 0.6], syn: 1, ttl: [64, 64, 128], ports: [443, 8883], tcp: 1 },
  smart_plug: { dur: [150, 1.2], fwd: [3, 0.5], bwd: [2, 0.6], fwdLen: [90, 0.5], bwdLen: [120, 0.5], syn: 1, ttl: [64, 255], ports: [1883, 53, 443], tcp: 0.6 },
  sensor_hub: { dur: [4000, 1.1], fwd: [20, 0.7], bwd: [15, 0.7], fwdLen: [220, 0.5], bwdLen: [100, 0.6], syn: 1, ttl: [64], ports: [1883, 8883, 5683], tcp: 0.7 },
  plc: { dur: [60, 0.9], fwd: [6, 0.4], bwd: [6, 0.4], fwdLen: [70, 0.25], bwdLen: [70, 0.25], syn: 1, ttl: [64, 128], ports: [502, 102, 44818], tcp: 0.95 },
  gateway: { dur: [2000, 1.4], fwd: [14, 1.1], bwd: [18, 1.2], fwdLen: [300, 0.8], bwdLen: [700, 0.7], syn: 1, ttl: [64, 128, 254], ports: [53, 443, 80, 123, 22], tcp: 0.7 },
};

/** Attack classes, by dataset label. Medians follow the datasets' published per-class behaviour. */
const ATTACK_SPECS: Record<string, FlowSpec> = {
  // CIC-IDS2017
  "DoS Hulk": { dur: [5000, 1.5], fwd: [6, 0.8], bwd: [5, 1.0], fwdLen: [60, 0.7], bwdLen: [900, 0.8], syn: 1, ttl: [64], ports: [80], tcp: 1 },
  "DoS GoldenEye": { dur: [8000, 1.2], fwd: [7, 0.7], bwd: [5, 0.8], fwdLen: [80, 0.6], bwdLen: [1100, 0.6], syn: 1, ttl: [64], ports: [80], tcp: 1 },
  "DoS slowloris": { dur: [40000, 0.9], fwd: [6, 0.5], bwd: [2, 0.7], fwdLen: [40, 0.5], bwdLen: [20, 1.0], syn: 1, ttl: [64], ports: [80], tcp: 1 },
  "DoS Slowhttptest": { dur: [30000, 1.0], fwd: [4, 0.6], bwd: [1, 0.8], fwdLen: [30, 0.6], bwdLen: [20, 1.0], syn: 1, ttl: [64], ports: [80], tcp: 1 },
  "PortScan": { dur: [0.06, 1.4], fwd: [1, 0.3], bwd: [1, 0.4], fwdLen: [2, 1.2], bwdLen: [4, 1.2], syn: 1, ttl: [64, 64, 128], ports: [], tcp: 0.95 },
  "DDoS": { dur: [3000, 1.5], fwd: [4, 0.7], bwd: [3, 0.9], fwdLen: [20, 1.0], bwdLen: [1200, 0.5], syn: 1, ttl: [64, 128], ports: [80], tcp: 1 },
  "FTP-Patator": { dur: [4000, 1.0], fwd: [10, 0.5], bwd: [15, 0.5], fwdLen: [12, 0.5], bwdLen: [25, 0.5], syn: 1, ttl: [64], ports: [21], tcp: 1 },
  "SSH-Patator": { dur: [10000, 0.9], fwd: [18, 0.5], bwd: [25, 0.5], fwdLen: [80, 0.5], bwdLen: [90, 0.5], syn: 1, ttl: [64], ports: [22], tcp: 1 },
  "Bot": { dur: [500, 1.5], fwd: [4, 0.7], bwd: [3, 0.7], fwdLen: [50, 0.9], bwdLen: [40, 0.9], syn: 1, ttl: [64, 128], ports: [8080, 443], tcp: 1 },
  "Web Attack - Brute Force": { dur: [6000, 1.0], fwd: [6, 0.6], bwd: [5, 0.6], fwdLen: [100, 0.5], bwdLen: [500, 0.7], syn: 1, ttl: [64], ports: [80], tcp: 1 },
  "Web Attack - XSS": { dur: [6000, 1.0], fwd: [6, 0.6], bwd: [5, 0.6], fwdLen: [250, 0.5], bwdLen: [500, 0.7], syn: 1, ttl: [64], ports: [80], tcp: 1 },
  "Web Attack - Sql Injection": { dur: [5000, 1.0], fwd: [5, 0.6], bwd: [4, 0.6], fwdLen: [180, 0.5], bwdLen: [400, 0.7], syn: 1, ttl: [64], ports: [80], tcp: 1 },
  "Infiltration": { dur: [30000, 1.5], fwd: [30, 1.5], bwd: [30, 1.5], fwdLen: [400, 1.0], bwdLen: [400, 1.0], syn: 1, ttl: [64, 128], ports: [444, 445, 139], tcp: 1 },
  "Heartbleed": { dur: [100000, 0.2], fwd: [2000, 0.3], bwd: [3000, 0.3], fwdLen: [30, 0.3], bwdLen: [1400, 0.1], syn: 1, ttl: [64], ports: [444], tcp: 1 },
  // UNSW-NB15
  "Generic": { dur: [0.01, 1.2], fwd: [2, 0.2], bwd: [0.4, 0.5], fwdLen: [57, 0.3], bwdLen: [40, 0.5], syn: 0, ttl: [254, 254, 254, 62], ports: [53], tcp: 0.05 },
  "Exploits": { dur: [1000, 1.5], fwd: [12, 1.0], bwd: [8, 1.0], fwdLen: [150, 0.8], bwdLen: [200, 1.0], syn: 1, ttl: [254, 254, 62], ports: [80, 21, 25, 111, 445], tcp: 0.9 },
  "Fuzzers": { dur: [500, 1.5], fwd: [8, 1.0], bwd: [2, 1.0], fwdLen: [100, 1.0], bwdLen: [50, 1.0], syn: 1, ttl: [254, 254, 62], ports: [], tcp: 0.8 },
  "DoS": { dur: [300, 1.5], fwd: [10, 1.0], bwd: [4, 1.0], fwdLen: [300, 1.0], bwdLen: [80, 1.0], syn: 1, ttl: [254, 254, 62], ports: [80, 111], tcp: 0.8 },
  "Reconnaissance": { dur: [0.5, 1.5], fwd: [2, 0.5], bwd: [1, 0.5], fwdLen: [60, 0.5], bwdLen: [50, 0.6], syn: 1, ttl: [254, 254, 62], ports: [], tcp: 0.6 },
  "Analysis": { dur: [0.02, 1.2], fwd: [2, 0.5], bwd: [0.5, 0.6], fwdLen: [200, 0.6], bwdLen: [40, 0.6], syn: 0.5, ttl: [254, 254, 62], ports: [80, 0], tcp: 0.5 },
  "Backdoor": { dur: [200, 1.5], fwd: [6, 0.8], bwd: [2, 0.8], fwdLen: [150, 0.8], bwdLen: [50, 0.8], syn: 1, ttl: [254, 254, 62], ports: [], tcp: 0.8 },
  "Shellcode": { dur: [1, 1.2], fwd: [4, 0.5], bwd: [2, 0.5], fwdLen: [250, 0.6], bwdLen: [50, 0.6], syn: 1, ttl: [254, 254, 62], ports: [], tcp: 0.5 },
  "Worms": { dur: [300, 1.2], fwd: [10, 0.7], bwd: [8, 0.7], fwdLen: [150, 0.7], bwdLen: [350, 0.7], syn: 1, ttl: [254, 254, 62], ports: [80], tcp: 0.9 },
};

/** The attack spec of a dataset label (throws for unknown labels). */
function attackSpec(label: string): FlowSpec {
  const s = ATTACK_SPECS[label];
  if (!s) throw new Error(`no synthetic traffic spec for label "${label}"`);
  return s;
}

/** Draw the canonical raw features of one flow from a spec. */
export function sampleFromSpec(rng: Rng, s: FlowSpec, out = new Float64Array(N_FLOW_FEATURES)): Float64Array {
  const durMs = Math.max(0.001, rng.logNormal(s.dur[0], s.dur[1]));
  const fwd = Math.max(1, Math.round(rng.logNormal(s.fwd[0], s.fwd[1])));
  const bwd = Math.max(0, Math.round(rng.logNormal(s.bwd[0], s.bwd[1])));
  const fLen = Math.min(1500, Math.max(0, rng.logNormal(s.fwdLen[0], s.fwdLen[1])));
  const bLen = Math.min(1500, Math.max(0, rng.logNormal(s.bwdLen[0], s.bwdLen[1])));
  const fBytes = Math.round(fwd * fLen);
  const bBytes = Math.round(bwd * bLen);
  const pkts = fwd + bwd;
  const mean = (fBytes + bBytes) / pkts;
  // two-point mixture of the directions plus within-direction jitter (~25 % of the length)
  const pf = fwd / pkts, pb = bwd / pkts;
  const between = pf * (fLen - mean) ** 2 + pb * (bLen - mean) ** 2;
  const within = pf * (0.25 * fLen) ** 2 + pb * (0.25 * bLen) ** 2;
  const std = Math.sqrt(between + within) * Math.exp(0.15 * rng.normal());
  const sec = durMs / 1000;
  const tcp = rng.bernoulli(s.tcp) ? 1 : 0;
  let syn = 0;
  if (tcp) {
    // a small Poisson count around the spec's mean (Knuth)
    const L = Math.exp(-s.syn);
    let k = 0, p = rng.next();
    while (p > L && k < 50) { k++; p *= rng.next(); }
    syn = k;
  }
  const ttlBase = s.ttl[rng.int(s.ttl.length)]!;
  const ttl = Math.max(1, Math.min(255, ttlBase - (ttlBase >= 250 ? rng.int(2) : rng.int(12))));
  const port = s.ports.length === 0 || rng.bernoulli(0.05) ? 1024 + rng.int(64511) : s.ports[rng.int(s.ports.length)]!;
  out[0] = durMs;
  out[1] = fwd;
  out[2] = bwd;
  out[3] = fBytes;
  out[4] = bBytes;
  out[5] = mean;
  out[6] = std;
  out[7] = (fBytes + bBytes) / sec;
  out[8] = pkts / sec;
  out[9] = pkts > 1 ? durMs / (pkts - 1) : 0;
  out[10] = syn;
  out[11] = ttl;
  out[12] = port;
  out[13] = tcp;
  return out;
}

/**
 * Seeded synthetic traffic calibrated to one public dataset: class mix from the dataset's
 * counts, benign traffic from the device profiles, attacks from per-label specs.
 */
export class SyntheticTraffic {
  readonly profile: DatasetProfile;
  /** dataset labels of each attack family (for drawing a concrete label within a family) */
  private readonly labelsByFamily = new Map<string, { labels: string[]; weights: number[] }>();

  constructor(dataset: DatasetId = "cic-ids2017") {
    this.profile = PROFILES[dataset];
    for (const c of this.profile.classes) {
      let e = this.labelsByFamily.get(c.family);
      if (!e) this.labelsByFamily.set(c.family, (e = { labels: [], weights: [] }));
      e.labels.push(c.label);
      e.weights.push(c.count);
    }
  }

  /** A benign flow of a device type. */
  benign(rng: Rng, device: DeviceType): Flow {
    return { x: sampleFromSpec(rng, DEVICE_PROFILES[device]), label: this.profile.classes[0]!.label, family: BENIGN, malicious: 0 };
  }

  /** An attack flow of a family (label drawn by the dataset's within-family counts). */
  attack(rng: Rng, family: string): Flow {
    const e = this.labelsByFamily.get(family);
    if (!e || family === BENIGN) throw new Error(`unknown attack family "${family}" for ${this.profile.id}`);
    const label = e.labels[rng.categorical(e.weights)]!;
    return { x: sampleFromSpec(rng, attackSpec(label)), label, family, malicious: 1 };
  }

  /** A flow of a given dataset label (benign labels use `device`, default drawn from DEVICE_PRIOR). */
  ofLabel(rng: Rng, label: string, device?: DeviceType): Flow {
    const c = this.profile.classes.find((k) => k.label === label);
    if (!c) throw new Error(`unknown label "${label}" for ${this.profile.id}`);
    if (c.family === BENIGN) {
      const d = device ?? DEVICE_TYPES[rng.categorical(DEVICE_TYPES.map((t) => DEVICE_PRIOR[t]))]!;
      return this.benign(rng, d);
    }
    return { x: sampleFromSpec(rng, attackSpec(label)), label, family: c.family, malicious: 1 };
  }

  /** An i.i.d. row with the dataset's class mix (for calibration and offline baselines). */
  row(rng: Rng): Flow {
    const cls = this.profile.classes[rng.categorical(this.profile.classes.map((c) => c.count))]!;
    return this.ofLabel(rng, cls.label);
  }
}
