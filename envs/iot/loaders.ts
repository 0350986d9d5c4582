/**
 * Streaming loaders for the real public datasets, when a user has placed them under `data/`
 * (see data/README.md):
 *
 * - CIC-IDS2017: `data/cic-ids2017/*.csv` (the MachineLearningCVE files, 79 columns). There
 *   is no official split: each distinct row goes to train or test by a hash of its content
 *   (`testFraction`, default 0.2), so the split does not depend on file order.
 * - UNSW-NB15: `data/unsw-nb15/UNSW_NB15_training-set.csv` and `..._testing-set.csv`
 *   (official split, 45 columns).
 *
 * Quirks handled (each is counted in `stats`):
 * - header names with leading/trailing spaces (trimmed);
 * - CIC's duplicated `Fwd Header Length`: the second occurrence is renamed `Fwd Header Length.1`;
 * - `Infinity` / `NaN` / empty in numeric cells (`nonFinite`): Flow Bytes/s and Flow Packets/s
 *   are recomputed from bytes, packets and duration (a zero duration counts as 1 µs);
 * - mis-encoded dash in CIC web-attack labels ("Web Attack \uFFFD Brute Force", "Web Attack â€“ XSS");
 * - constant columns (`constantColumns`: native numeric columns with a single value over the
 *   loaded rows; they carry no signal and the canonical projection does not use them);
 * - duplicate rows (`duplicates`): dropped, within each split, by a 64-bit content hash;
 * - UNSW categorical proto/service/state: vocabularies fitted on the training split (index 0
 *   = unseen), stored in the scaler JSON under `categories`, codes kept on each flow.
 * Rows are projected onto the canonical features of traffic.ts; the min-max scaler is fitted
 * on the training split only.
 */
import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { BENIGN, CIC_IDS2017, UNSW_NB15, familyOf, normaliseLabel, type DatasetId, type DatasetProfile } from "./families";
import { readCsv, readCsvSync } from "./csv";
import { MinMaxScaler, N_FLOW_FEATURES, type Flow } from "./traffic";
import { Rng } from "./rng";

export interface LoadedFlow extends Flow {
  /** UNSW-NB15 only: codes of proto, service, state in the fitted vocabularies */
  categorical?: Uint16Array;
}

export interface LoadStats {
  files: string[];
  rows: number;
  kept: { train: number; test: number };
  duplicates: number;
  nonFinite: number;
  unknownLabels: Record<string, number>;
  labelCounts: Record<string, number>;
  familyCounts: Record<string, number>;
  constantColumns: string[];
  renamedColumns: string[];
}

export interface LoadedDataset {
  dataset: DatasetId;
  profile: DatasetProfile;
  train: LoadedFlow[];
  test: LoadedFlow[];
  scaler: MinMaxScaler;
  stats: LoadStats;
}

export interface LoadOptions {
  /** CIC-IDS2017 only: fraction of distinct rows hashed into the test split (default 0.2) */
  testFraction?: number;
  /** keep at most this many rows per family and split (seeded reservoir sampling) */
  maxPerFamily?: number;
  /** seed of the reservoir sampling (default 0) */
  seed?: number;
  /** log2 of the duplicate filter's size in bits (default 27 = 16 MiB; see RowFilter) */
  dedupBits?: number;
  /** called every `progressEvery` data rows read (default 100000), e.g. to report progress or sample memory */
  onProgress?: (rowsRead: number, file: string) => void;
  progressEvery?: number;
}

// ------------------------------------------------------------------ helpers

/** Trim header names; rename repeated names `name.1`, `name.2`, ... (pandas' convention). */
export function normaliseHeader(raw: readonly string[]): { names: string[]; renamed: string[] } {
  const seen = new Map<string, number>();
  const renamed: string[] = [];
  const names = raw.map((h, i) => {
    let name = h.trim();
    if (i === 0 && name.charCodeAt(0) === 0xfeff) name = name.slice(1);
    const k = seen.get(name) ?? 0;
    seen.set(name, k + 1);
    if (k > 0) {
      renamed.push(`${name}.${k}`);
      return `${name}.${k}`;
    }
    return name;
  });
  return { names, renamed };
}

/** Parse a numeric cell: returns NaN for `NaN`, empty, and anything unparsable; ±Infinity kept. */
export function parseNumber(cell: string): number {
  const s = cell.trim();
  if (s === "") return NaN;
  const v = Number(s); // also reads "Infinity" / "-Infinity"
  if (v === v) return v;
  // only unparsable cells reach the patterns (a regex per cell would cost a third of the load time)
  if (/^[+]?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  return NaN;
}

/**
 * 64-bit content hash of a row's trimmed cells (two FNV-1a variants), skipping column `skip`
 * (UNSW-NB15's running id; -1 for none), into `out` [h1, h2]. No allocation per row.
 */
export function rowHash64(cells: readonly string[], skip: number, out: Uint32Array): Uint32Array {
  let h1 = 0x811c9dc5, h2 = 0x01000193 ^ 0x5bd1e995;
  for (let c = 0; c < cells.length; c++) {
    if (c === skip) continue;
    const s = cells[c]!.trim();
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 0x01000193);
      h2 = Math.imul(h2 ^ ch, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    h1 = Math.imul(h1 ^ 0x2c, 0x01000193);
    h2 = Math.imul(h2 ^ 0x2c, 0x5bd1e995);
  }
  out[0] = h1;
  out[1] = h2;
  return out;
}

/** The same hash as a 16-char hex key. */
export function rowHash(cells: readonly string[]): string {
  const [h1, h2] = rowHash64(cells, -1, new Uint32Array(2));
  return h1!.toString(16).padStart(8, "0") + h2!.toString(16).padStart(8, "0");
}

/**
 * Duplicate detection in constant memory: a Bloom filter of 2^log2Bits bits (default 2^27 =
 * 16 MiB) with k = 8 probes by double hashing of the 64-bit row hash. With an exact set of
 * every distinct row's key, a 1 M-row load capped at 10000 rows per family peaked at 85-141 MiB
 * of live heap, still growing 3-7 MiB per 100k rows; with the filter, 32-50 MiB
 * (bench/results/iot-loaders-before.md, iot-loaders.md). The price
 * is a false "duplicate" with probability (1 − e^(−8n/m))^8 after n distinct rows: 3e-7 at the
 * full CIC-IDS2017 (2.8 M rows, about one row wrongly dropped in ten loads), 1.7e-3 at 10 M.
 */
export class RowFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  constructor(readonly log2Bits = 27, readonly probes = 8) {
    if (!(Number.isInteger(log2Bits) && log2Bits >= 10 && log2Bits <= 32)) throw new RangeError(`dedupBits must be an integer in [10, 32], got ${log2Bits}`);
    this.bits = new Uint32Array(2 ** (log2Bits - 5));
    this.mask = log2Bits === 32 ? 0xffffffff : 2 ** log2Bits - 1;
  }
  /** Adds the hash; true if it was (probably) there already. */
  testAndAdd(h1: number, h2: number): boolean {
    let seen = true;
    let h = h1 >>> 0;
    const step = (h2 | 1) >>> 0;
    for (let i = 0; i < this.probes; i++) {
      const b = (h & this.mask) >>> 0;
      const w = b >>> 5, m = 1 << (b & 31);
      if ((this.bits[w]! & m) === 0) { seen = false; this.bits[w]! |= m; }
      h = (h + step) >>> 0;
    }
    return seen;
  }
  get bytes(): number { return this.bits.byteLength; }
}

class ColumnRange {
  readonly min: number[];
  readonly max: number[];
  constructor(readonly names: string[]) {
    this.min = names.map(() => Infinity);
    this.max = names.map(() => -Infinity);
  }
  add(j: number, v: number) {
    if (Number.isNaN(v)) return;
    if (v < this.min[j]!) this.min[j] = v;
    if (v > this.max[j]!) this.max[j] = v;
  }
  constant(): string[] {
    return this.names.filter((_, j) => this.min[j] === this.max[j]);
  }
}

/** Collects rows of one split: dedup (shared filter, salted per split), per-family reservoir, counts. */
class SplitSink {
  readonly byFamily = new Map<string, { rows: LoadedFlow[]; n: number }>();
  duplicates = 0;
  constructor(private readonly cap: number, private readonly rng: Rng, private readonly filter: RowFilter, private readonly salt: number) {}
  add(h1: number, h2: number, flow: LoadedFlow): boolean {
    if (this.filter.testAndAdd(h1 ^ this.salt, h2)) { this.duplicates++; return false; }
    let e = this.byFamily.get(flow.family);
    if (!e) this.byFamily.set(flow.family, (e = { rows: [], n: 0 }));
    e.n++;
    if (e.rows.length < this.cap) e.rows.push(flow);
    else {
      const k = this.rng.int(e.n);
      if (k < this.cap) e.rows[k] = flow;
    }
    return true;
  }
  rows(): LoadedFlow[] {
    return [...this.byFamily.values()].flatMap((e) => e.rows);
  }
}

type RowMapper = {
  names: string[];
  numeric: boolean[];
  /** column left out of the duplicate check (UNSW-NB15's running `id`), -1 for none */
  idIndex: number;
  map(cells: string[], stats: LoadStats): LoadedFlow | null;
};

function col(names: string[], name: string, file: string): number {
  const j = names.indexOf(name);
  if (j < 0) throw new Error(`${file}: missing column "${name}"`);
  return j;
}

/** Count an unknown label; at most 100 distinct ones are named, the rest go under "(other)" (bounded on garbage files). */
function countUnknown(stats: LoadStats, label: string): void {
  const u = stats.unknownLabels;
  const k = label in u || Object.keys(u).length < 100 ? label : "(other)";
  u[k] = (u[k] ?? 0) + 1;
}

/** Memoises a raw-label lookup (a handful of distinct labels over millions of rows; at most 1024 kept). */
function labelCache<T>(resolve: (raw: string) => T): (raw: string) => T {
  const cache = new Map<string, T>();
  return (raw) => {
    let v = cache.get(raw);
    if (v === undefined && !cache.has(raw)) {
      v = resolve(raw);
      if (cache.size < 1024) cache.set(raw, v);
    }
    return v as T;
  };
}

function safeRate(amount: number, seconds: number): number {
  return amount / Math.max(seconds, 1e-6);
}

// ------------------------------------------------------------------ CIC-IDS2017

function cicMapper(names: string[], file: string): RowMapper {
  const c = (n: string) => col(names, n, file);
  const iDur = c("Flow Duration"), iF = c("Total Fwd Packets"), iB = c("Total Backward Packets");
  const iFB = c("Total Length of Fwd Packets"), iBB = c("Total Length of Bwd Packets");
  const iMean = c("Packet Length Mean"), iStd = c("Packet Length Std");
  const iBps = c("Flow Bytes/s"), iPps = c("Flow Packets/s"), iIat = c("Flow IAT Mean");
  const iSyn = c("SYN Flag Count"), iPort = c("Destination Port"), iLabel = c("Label");
  const flagCols = ["FIN Flag Count", "SYN Flag Count", "RST Flag Count", "PSH Flag Count", "ACK Flag Count", "URG Flag Count"].map(c);
  const iWin = names.indexOf("Init_Win_bytes_forward");
  const numeric = names.map((_, j) => j !== iLabel);
  const resolve = labelCache((raw) => {
    const label = normaliseLabel(raw);
    const family = familyOf(CIC_IDS2017, label);
    const cls = CIC_IDS2017.classes.find((k) => k.label.toLowerCase() === label.toLowerCase());
    return { label: cls?.label ?? label, family };
  });
  return {
    names, numeric, idIndex: -1,
    map(cells, stats) {
      const num = (j: number) => {
        const v = parseNumber(cells[j] ?? "");
        if (!Number.isFinite(v)) { stats.nonFinite++; return NaN; }
        return v;
      };
      const { label, family } = resolve(cells[iLabel] ?? "");
      if (family === undefined) { countUnknown(stats, label); return null; }
      const x = new Float64Array(N_FLOW_FEATURES);
      const durUs = Math.max(0, num(iDur) || 0);
      const sec = durUs / 1e6;
      const fwd = num(iF) || 0, bwd = num(iB) || 0, fb = num(iFB) || 0, bb = num(iBB) || 0;
      x[0] = durUs / 1000;
      x[1] = fwd; x[2] = bwd; x[3] = fb; x[4] = bb;
      x[5] = num(iMean) || 0; x[6] = num(iStd) || 0;
      const bps = num(iBps), pps = num(iPps);
      x[7] = Number.isFinite(bps) ? Math.max(0, bps) : safeRate(fb + bb, sec);
      x[8] = Number.isFinite(pps) ? Math.max(0, pps) : safeRate(fwd + bwd, sec);
      x[9] = Math.max(0, (num(iIat) || 0) / 1000);
      x[10] = num(iSyn) || 0;
      x[11] = 0;
      x[12] = num(iPort) || 0;
      const flags = flagCols.reduce((s, j) => s + (parseNumber(cells[j] ?? "") || 0), 0);
      x[13] = flags > 0 || (iWin >= 0 && (parseNumber(cells[iWin] ?? "") || 0) > 0) ? 1 : 0;
      return { x, label, family, malicious: family === BENIGN ? 0 : 1 };
    },
  };
}

// ------------------------------------------------------------------ UNSW-NB15

const UNSW_CATEGORICAL = ["proto", "service", "state"] as const;
/** values kept per categorical column (the real files have ≤ 133); later new values read as <unk> */
const MAX_VOCAB = 4096;

function unswMapper(names: string[], file: string, vocab: Map<string, string[]>, growVocab: boolean): RowMapper {
  const c = (n: string) => col(names, n, file);
  const iDur = c("dur"), iSp = c("spkts"), iDp = c("dpkts"), iSb = c("sbytes"), iDb = c("dbytes");
  const iRate = c("rate"), iSttl = c("sttl"), iSin = c("sinpkt"), iSynack = c("synack");
  const iSmean = c("smean"), iDmean = c("dmean"), iCat = c("attack_cat"), iLab = c("label");
  const iCats = UNSW_CATEGORICAL.map(c);
  const iId = names.indexOf("id");
  const numeric = names.map((_, j) => j !== iCat && j !== iId && !iCats.includes(j));
  for (const k of UNSW_CATEGORICAL) if (!vocab.has(k)) vocab.set(k, ["<unk>"]);
  const resolve = labelCache((raw) => {
    const cat = normaliseLabel(raw);
    return { cat, family: cat === "" ? undefined : familyOf(UNSW_NB15, cat) };
  });
  return {
    names, numeric, idIndex: iId,
    map(cells, stats) {
      const num = (j: number) => {
        const v = parseNumber(cells[j] ?? "");
        if (!Number.isFinite(v)) { stats.nonFinite++; return 0; }
        return v;
      };
      const { cat: rawCat, family: catFamily } = resolve(cells[iCat] ?? "");
      const lab = num(iLab);
      let family = rawCat === "" ? (lab === 0 ? BENIGN : undefined) : catFamily;
      if (family !== undefined && lab === 0) family = BENIGN;
      if (family === undefined) { countUnknown(stats, rawCat); return null; }
      const dur = Math.max(0, num(iDur));
      const sp = num(iSp), dp = num(iDp), sb = num(iSb), db = num(iDb);
      const pk = sp + dp;
      const mean = pk > 0 ? (sb + db) / pk : 0;
      const sm = num(iSmean), dm = num(iDmean);
      const x = new Float64Array(N_FLOW_FEATURES);
      x[0] = dur * 1000;
      x[1] = sp; x[2] = dp; x[3] = sb; x[4] = db;
      x[5] = mean;
      x[6] = pk > 0 ? Math.sqrt((sp * (sm - mean) ** 2 + dp * (dm - mean) ** 2) / pk) : 0;
      x[7] = safeRate(sb + db, dur);
      const rate = parseNumber(cells[iRate] ?? "");
      x[8] = Number.isFinite(rate) ? Math.max(0, rate) : safeRate(pk, dur);
      x[9] = Math.max(0, num(iSin));
      x[10] = num(iSynack) > 0 ? 1 : 0;
      x[11] = num(iSttl);
      x[12] = 0;
      const proto = (cells[iCats[0]!] ?? "").trim().toLowerCase();
      x[13] = proto === "tcp" ? 1 : 0;
      const codes = new Uint16Array(UNSW_CATEGORICAL.length);
      UNSW_CATEGORICAL.forEach((k, m) => {
        const v = (cells[iCats[m]!] ?? "").trim().toLowerCase();
        const voc = vocab.get(k)!;
        let idx = voc.indexOf(v);
        if (idx < 0 && growVocab && voc.length < MAX_VOCAB) { voc.push(v); idx = voc.length - 1; }
        codes[m] = idx < 0 ? 0 : idx;
      });
      const cls = UNSW_NB15.classes.find((k) => k.family === family);
      return { x, label: cls?.label ?? rawCat, family, malicious: family === BENIGN ? 0 : 1, categorical: codes };
    },
  };
}

// ------------------------------------------------------------------ drivers

interface Job { file: string; split: "train" | "test" | "hash"; mapper: (names: string[]) => RowMapper }

function newStats(files: string[]): LoadStats {
  return { files, rows: 0, kept: { train: 0, test: 0 }, duplicates: 0, nonFinite: 0, unknownLabels: {},
    labelCounts: {}, familyCounts: {}, constantColumns: [], renamedColumns: [] };
}

/** Consumes records of one file (header first). Shared by the sync and async drivers. */
class FileConsumer {
  private mapper: RowMapper | null = null;
  private ranges: ColumnRange | null = null;
  constructor(private readonly job: Job, private readonly ctx: LoadContext) {}
  record(cells: string[]) {
    const { ctx, job } = this;
    if (!this.mapper) {
      const { names, renamed } = normaliseHeader(cells);
      ctx.stats.renamedColumns.push(...renamed.filter((r) => !ctx.stats.renamedColumns.includes(r)));
      this.mapper = job.mapper(names);
      this.ranges = ctx.rangesFor(names);
      return;
    }
    if (cells.length === 1 && cells[0]!.trim() === "") return; // blank line
    if (++ctx.stats.rows % ctx.progressEvery === 0) ctx.onProgress?.(ctx.stats.rows, job.file);
    const flow = this.mapper.map(cells, ctx.stats);
    if (!flow) return;
    const m = this.mapper;
    const h = rowHash64(cells, m.idIndex, ctx.hash);
    const split = job.split === "hash" ? (h[0]! / 4294967296 < ctx.testFraction ? "test" : "train") : job.split;
    if (!ctx.sinks[split].add(h[0]!, h[1]!, flow)) return;
    const r = this.ranges!;
    for (let j = 0; j < m.names.length; j++) if (m.numeric[j]) r.add(j, parseNumber(cells[j] ?? ""));
    ctx.stats.labelCounts[flow.label] = (ctx.stats.labelCounts[flow.label] ?? 0) + 1;
    ctx.stats.familyCounts[flow.family] = (ctx.stats.familyCounts[flow.family] ?? 0) + 1;
  }
}

class LoadContext {
  readonly stats: LoadStats;
  readonly sinks: { train: SplitSink; test: SplitSink };
  readonly vocab = new Map<string, string[]>();
  private readonly allRanges = new Map<string, ColumnRange>();
  readonly testFraction: number;
  /** scratch for the row hash (no allocation per row) */
  readonly hash = new Uint32Array(2);
  readonly onProgress: LoadOptions["onProgress"];
  readonly progressEvery: number;
  constructor(readonly dataset: DatasetId, readonly jobs: Job[], opts: LoadOptions) {
    this.onProgress = opts.onProgress;
    this.progressEvery = Math.max(1, Math.floor(opts.progressEvery ?? 100_000));
    this.stats = newStats(jobs.map((j) => j.file));
    const rng = new Rng(opts.seed ?? 0);
    const cap = opts.maxPerFamily ?? Infinity;
    if (!(cap >= 1)) throw new RangeError(`maxPerFamily must be ≥ 1, got ${opts.maxPerFamily}`);
    const filter = new RowFilter(opts.dedupBits ?? 27);
    this.sinks = { train: new SplitSink(cap, rng.fork(), filter, 0), test: new SplitSink(cap, rng.fork(), filter, 0x5bd1e995) };
    this.testFraction = opts.testFraction ?? 0.2;
  }
  rangesFor(names: string[]): ColumnRange {
    const key = names.join("\u0000");
    let r = this.allRanges.get(key);
    if (!r) this.allRanges.set(key, (r = new ColumnRange(names)));
    return r;
  }
  finish(): LoadedDataset {
    const train = this.sinks.train.rows(), test = this.sinks.test.rows();
    const s = this.stats;
    s.duplicates = this.sinks.train.duplicates + this.sinks.test.duplicates;
    s.kept = { train: train.length, test: test.length };
    // a column is constant when it is constant in every file layout that has it (same value)
    const cmin = new Map<string, number>(), cmax = new Map<string, number>();
    for (const r of this.allRanges.values()) {
      r.names.forEach((n, j) => {
        if (r.min[j] === Infinity) return; // no non-NaN value seen
        cmin.set(n, Math.min(cmin.get(n) ?? Infinity, r.min[j]!));
        cmax.set(n, Math.max(cmax.get(n) ?? -Infinity, r.max[j]!));
      });
    }
    s.constantColumns = [...cmin.keys()].filter((n) => cmin.get(n) === cmax.get(n));
    const profile = this.dataset === "cic-ids2017" ? CIC_IDS2017 : UNSW_NB15;
    const scaler = MinMaxScaler.fit(train.map((f) => f.x), `${this.dataset} train split`);
    if (this.vocab.size > 0) scaler.json.categories = Object.fromEntries(this.vocab);
    return { dataset: this.dataset, profile, train, test, scaler, stats: s };
  }
}

function cicJobs(pathOrFiles: string | string[]): Job[] {
  const files = Array.isArray(pathOrFiles)
    ? pathOrFiles
    : readdirSync(pathOrFiles).filter((f) => f.toLowerCase().endsWith(".csv")).sort().map((f) => join(pathOrFiles, f));
  if (files.length === 0) throw new Error(`no CIC-IDS2017 CSV files in ${pathOrFiles}`);
  return files.map((file) => ({ file, split: "hash" as const, mapper: (names: string[]) => cicMapper(names, file) }));
}

function unswJobs(dir: string, ctxVocab: () => Map<string, string[]>): Job[] {
  const tr = join(dir, "UNSW_NB15_training-set.csv"), te = join(dir, "UNSW_NB15_testing-set.csv");
  for (const f of [tr, te]) if (!existsSync(f)) throw new Error(`UNSW-NB15 file not found: ${f}`);
  return [
    { file: tr, split: "train", mapper: (names) => unswMapper(names, tr, ctxVocab(), true) },
    { file: te, split: "test", mapper: (names) => unswMapper(names, te, ctxVocab(), false) },
  ];
}

function makeContext(dataset: DatasetId, path: string | string[], opts: LoadOptions): LoadContext {
  let ctx: LoadContext | null = null;
  const jobs = dataset === "cic-ids2017" ? cicJobs(path) : unswJobs(path as string, () => ctx!.vocab);
  ctx = new LoadContext(dataset, jobs, opts);
  return ctx;
}

/** Load a dataset by streaming its CSV files (async, node:readline). */
export async function loadDataset(dataset: DatasetId, path: string | string[], opts: LoadOptions = {}): Promise<LoadedDataset> {
  const ctx = makeContext(dataset, path, opts);
  for (const job of ctx.jobs) {
    const fc = new FileConsumer(job, ctx);
    for await (const rec of readCsv(job.file)) fc.record(rec);
  }
  return ctx.finish();
}

/** Same as `loadDataset`, synchronously (chunked fs.readSync); used when an env is made with a real source. */
export function loadDatasetSync(dataset: DatasetId, path: string | string[], opts: LoadOptions = {}): LoadedDataset {
  const ctx = makeContext(dataset, path, opts);
  for (const job of ctx.jobs) {
    const fc = new FileConsumer(job, ctx);
    for (const rec of readCsvSync(job.file)) fc.record(rec);
  }
  return ctx.finish();
}

/** Default location of a dataset under the repository's `data/` folder. */
export function defaultDataPath(dataset: DatasetId, root = "data"): string {
  return join(root, dataset);
}
