/**
 * Writes large SYNTHETIC CSV files in the exact layouts of the two public datasets, with their
 * known quirks, so the streaming loaders (loaders.ts) can be exercised at realistic size
 * without the real files (bench/iot-loaders.ts writes 1 M rows to a temporary folder).
 *
 * Rows are flows of SyntheticTraffic (traffic.ts) with the dataset's class mix, rendered into
 * the dataset's columns (the inverse of the loaders' projection onto the canonical features).
 * No row comes from the real data.
 *
 * CIC-IDS2017 (MachineLearningCVE, 79 columns), files `part-<i>.csv`:
 * - header names with leading spaces, `Fwd Header Length` twice (the second one renamed by the loader);
 * - `Infinity` in Flow Bytes/s and Flow Packets/s for zero-duration flows (`nonFiniteRate`),
 *   `NaN` for zero-duration zero-byte flows (a third as many);
 * - web-attack labels with the mis-encoded dash of the published files ("Web Attack \uFFFD Brute Force",
 *   "Web Attack â€“ XSS");
 * - constant (all-zero) columns: bulk rates, URG/CWE/ECE flags, Active/Idle;
 * - exact duplicate rows (`duplicateRate`, default 0.1: the real files hold ~11 % duplicates);
 * - odd-numbered files with CRLF line ends.
 * UNSW-NB15 (official partition, 45 columns), `UNSW_NB15_training-set.csv` and `..._testing-set.csv`:
 * - categorical proto/service/state, the testing set with values never seen in training (`ospf`, `snmp`);
 * - duplicate rows that differ only in the running `id`;
 * - attack_cat spellings " Fuzzers " (spaces) and, in the testing set, "Backdoors".
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BENIGN, type DatasetId } from "./families";
import { Rng } from "./rng";
import { SyntheticTraffic, type Flow } from "./traffic";

/** CIC-IDS2017 MachineLearningCVE header, spaces and the repeated `Fwd Header Length` as published. */
export const CIC_HEADER: readonly string[] = [
  " Destination Port", " Flow Duration", " Total Fwd Packets", " Total Backward Packets", "Total Length of Fwd Packets",
  " Total Length of Bwd Packets", " Fwd Packet Length Max", " Fwd Packet Length Min", " Fwd Packet Length Mean",
  " Fwd Packet Length Std", "Bwd Packet Length Max", " Bwd Packet Length Min", " Bwd Packet Length Mean",
  " Bwd Packet Length Std", "Flow Bytes/s", " Flow Packets/s", " Flow IAT Mean", " Flow IAT Std", " Flow IAT Max",
  " Flow IAT Min", "Fwd IAT Total", " Fwd IAT Mean", " Fwd IAT Std", " Fwd IAT Max", " Fwd IAT Min", "Bwd IAT Total",
  " Bwd IAT Mean", " Bwd IAT Std", " Bwd IAT Max", " Bwd IAT Min", "Fwd PSH Flags", " Bwd PSH Flags", " Fwd URG Flags",
  " Bwd URG Flags", " Fwd Header Length", " Bwd Header Length", "Fwd Packets/s", " Bwd Packets/s", " Min Packet Length",
  " Max Packet Length", " Packet Length Mean", " Packet Length Std", " Packet Length Variance", "FIN Flag Count",
  " SYN Flag Count", " RST Flag Count", " PSH Flag Count", " ACK Flag Count", " URG Flag Count", " CWE Flag Count",
  " ECE Flag Count", " Down/Up Ratio", " Average Packet Size", " Avg Fwd Segment Size", " Avg Bwd Segment Size",
  " Fwd Header Length", "Fwd Avg Bytes/Bulk", " Fwd Avg Packets/Bulk", " Fwd Avg Bulk Rate", " Bwd Avg Bytes/Bulk",
  " Bwd Avg Packets/Bulk", "Bwd Avg Bulk Rate", "Subflow Fwd Packets", " Subflow Fwd Bytes", " Subflow Bwd Packets",
  " Subflow Bwd Bytes", "Init_Win_bytes_forward", " Init_Win_bytes_backward", " act_data_pkt_fwd",
  " min_seg_size_forward", "Active Mean", " Active Std", " Active Max", " Active Min", "Idle Mean", " Idle Std",
  " Idle Max", " Idle Min", " Label",
];

/** UNSW-NB15 official training/testing-set header. */
export const UNSW_HEADER: readonly string[] = ["id", "dur", "proto", "service", "state", "spkts", "dpkts", "sbytes", "dbytes", "rate",
  "sttl", "dttl", "sload", "dload", "sloss", "dloss", "sinpkt", "dinpkt", "sjit", "djit", "swin", "stcpb", "dtcpb", "dwin",
  "tcprtt", "synack", "ackdat", "smean", "dmean", "trans_depth", "response_body_len", "ct_srv_src", "ct_state_ttl",
  "ct_dst_ltm", "ct_src_dport_ltm", "ct_dst_sport_ltm", "ct_dst_src_ltm", "is_ftp_login", "ct_ftp_cmd",
  "ct_flw_http_mthd", "ct_src_ltm", "ct_srv_dst", "is_sm_ips_ports", "attack_cat", "label"];

export interface DatasetCsvOptions {
  /** data rows in total, duplicates included */
  rows: number;
  seed?: number;
  /** CIC-IDS2017: number of files the rows are split over (default 2) */
  files?: number;
  /** share of rows that repeat one of the last 1000 rows of the same file (default 0.1) */
  duplicateRate?: number;
  /** CIC-IDS2017: share of zero-duration rows written with Infinity rates (default 0.003; NaN rows a third of it) */
  nonFiniteRate?: number;
  /** UNSW-NB15: share of the rows in the testing set (default 0.32, as 82,332 of 257,673) */
  testShare?: number;
}

export interface DatasetCsvReport {
  files: string[];
  rows: number;
  bytes: number;
  /** rows written as a copy of an earlier row (more rows may coincide by chance) */
  duplicates: number;
  infinityRows: number;
  nanRows: number;
  /** canonical label of every written row (duplicates included) */
  labelCounts: Record<string, number>;
  /** the first rows written (not duplicates) with their canonical features, for round-trip checks */
  sample: { label: string; x: number[] }[];
}

/** A number as the datasets print it: integers bare, fractions with up to 6 decimals. */
function num(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Math.round(v * 1e6) / 1e6);
}

/** The published, mis-encoded spelling of a CIC web-attack label. */
function cicLabel(label: string, rng: Rng): string {
  if (!label.startsWith("Web Attack - ")) return label;
  const rest = label.slice("Web Attack - ".length);
  return rng.bernoulli(0.5) ? `Web Attack \uFFFD ${rest}` : `Web Attack \u00e2\u20ac\u201c ${rest}`;
}

function cicRow(f: Flow, label: string, quirk: "inf" | "nan" | null): string {
  const x = f.x;
  let durUs = Math.round(x[0]! * 1000);
  const fwd = x[1]!, bwd = x[2]!;
  let fb = x[3]!, bb = x[4]!;
  let bps = num(x[7]!), pps = num(x[8]!);
  if (quirk === "inf") { durUs = 0; bps = "Infinity"; pps = "Infinity"; }
  if (quirk === "nan") { durUs = 0; fb = 0; bb = 0; bps = "NaN"; pps = "NaN"; }
  const sec = durUs / 1e6;
  const fm = fwd ? fb / fwd : 0, bm = bwd ? bb / bwd : 0;
  const mean = quirk === "nan" ? 0 : x[5]!, std = quirk === "nan" ? 0 : x[6]!;
  const iatUs = quirk ? 0 : x[9]! * 1000;
  const tcp = x[13]! > 0;
  const syn = x[10]!;
  const out = new Array<string>(CIC_HEADER.length);
  for (let j = 0; j < CIC_HEADER.length; j++) {
    let v: string | number = 0;
    switch (j) {
      case 0: v = x[12]!; break; // Destination Port
      case 1: case 20: v = durUs; break; // Flow Duration, Fwd IAT Total
      case 2: case 62: v = fwd; break;
      case 3: case 64: v = bwd; break;
      case 4: case 63: v = fb; break;
      case 5: case 65: v = bb; break;
      case 6: case 7: case 8: case 53: v = num(fm); break;
      case 10: case 11: case 12: case 54: v = num(bm); break;
      case 14: v = bps; break;
      case 15: v = pps; break;
      case 16: case 18: case 19: case 21: v = num(iatUs); break;
      case 34: case 55: v = fwd * 32; break; // Fwd Header Length (twice)
      case 35: v = bwd * 32; break;
      case 36: v = sec > 0 ? num(fwd / sec) : 0; break;
      case 37: v = sec > 0 ? num(bwd / sec) : 0; break;
      case 38: v = num(Math.min(fm, bm || fm)); break;
      case 39: v = num(Math.max(fm, bm)); break;
      case 40: case 52: v = num(mean); break;
      case 41: v = num(std); break;
      case 42: v = num(std * std); break;
      case 44: v = syn; break; // SYN Flag Count
      case 47: v = tcp ? 1 : 0; break; // ACK Flag Count
      case 51: v = fwd ? Math.floor(bwd / fwd) : 0; break;
      case 66: v = tcp ? 29200 : 0; break; // Init_Win_bytes_forward
      case 67: v = tcp ? 235 : -1; break;
      case 69: v = tcp ? 20 : 0; break;
      case 78: v = label; break;
      default: v = 0; // bulk, URG/CWE/ECE, Active/Idle, PSH/FIN/RST: constant 0
    }
    out[j] = typeof v === "number" ? num(v) : v;
  }
  return out.join(",");
}

const UNSW_SERVICES: Record<number, string> = { 80: "http", 53: "dns", 21: "ftp", 25: "smtp", 22: "ssh", 443: "ssl", 111: "-", 445: "-" };

/** A UNSW-NB15 row without its id (the loader's duplicate check ignores the id). */
function unswRow(f: Flow, cat: string, label: 0 | 1, rng: Rng, test: boolean): string {
  const x = f.x;
  const dur = x[0]! / 1000;
  const sp = x[1]!, dp = x[2]!, sb = x[3]!, db = x[4]!;
  let proto = x[13]! > 0 ? "tcp" : rng.bernoulli(0.9) ? "udp" : rng.pick(["arp", "sctp", "unas"]);
  let service = UNSW_SERVICES[x[12]!] ?? "-";
  if (test && rng.bernoulli(0.002)) proto = "ospf";
  if (test && rng.bernoulli(0.002)) service = "snmp";
  const state = proto === "tcp" ? (label ? "FIN" : rng.pick(["FIN", "FIN", "CON"])) : label ? "INT" : "CON";
  const cells: (string | number)[] = [
    num(dur), proto, service, state, sp, dp, sb, db, num(x[8]!), x[11]!, label ? 0 : 252,
    dur > 0 ? num((sb * 8) / dur) : 0, dur > 0 ? num((db * 8) / dur) : 0, 0, 0, num(x[9]!), 0, 0, 0,
    proto === "tcp" ? 255 : 0, 0, 0, proto === "tcp" ? 255 : 0, 0, x[10]! > 0 ? 0.01 : 0, x[10]! > 0 ? 0.0002 : 0,
    sp ? Math.round(sb / sp) : 0, dp ? Math.round(db / dp) : 0, 0, 0, 1 + rng.int(6), 1 + rng.int(3), 1 + rng.int(4),
    1, 1, 1 + rng.int(3), 0, 0, service === "http" ? 1 : 0, 1 + rng.int(5), 1 + rng.int(6), 0, cat, label,
  ];
  return cells.map((c) => (typeof c === "number" ? num(c) : c)).join(",");
}

/** Buffered line writer: one writeSync per ~4000 lines, so 1 M rows stream in constant memory. */
class LineWriter {
  private readonly fd: number;
  private buf: string[] = [];
  bytes = 0;
  constructor(readonly path: string, private readonly eol: string) { this.fd = openSync(path, "w"); }
  line(s: string) {
    this.buf.push(s);
    if (this.buf.length >= 4000) this.flush();
  }
  flush() {
    if (!this.buf.length) return;
    const chunk = this.buf.join(this.eol) + this.eol;
    this.bytes += Buffer.byteLength(chunk);
    writeSync(this.fd, chunk);
    this.buf = [];
  }
  close() { this.flush(); closeSync(this.fd); }
}

/**
 * Write `rows` synthetic rows of `dataset` into `dir` in the dataset's layout (see the file
 * header for names and quirks). Returns what was written, for checks against the loader's stats.
 */
export function writeDatasetCsv(dataset: DatasetId, dir: string, o: DatasetCsvOptions): DatasetCsvReport {
  if (!(Number.isInteger(o.rows) && o.rows >= 1)) throw new RangeError(`rows must be a positive integer, got ${o.rows}`);
  const rng = new Rng(o.seed ?? 0);
  const traffic = new SyntheticTraffic(dataset);
  const dupRate = o.duplicateRate ?? 0.1;
  const report: DatasetCsvReport = { files: [], rows: 0, bytes: 0, duplicates: 0, infinityRows: 0, nanRows: 0, labelCounts: {}, sample: [] };
  const count = (label: string) => { report.labelCounts[label] = (report.labelCounts[label] ?? 0) + 1; };
  const plan: { path: string; eol: string; rows: number; test: boolean }[] = [];
  if (dataset === "cic-ids2017") {
    const files = o.files ?? 2;
    for (let i = 0; i < files; i++) {
      plan.push({ path: join(dir, `part-${i}.csv`), eol: i % 2 ? "\r\n" : "\n", test: false,
        rows: Math.floor(o.rows / files) + (i < o.rows % files ? 1 : 0) });
    }
  } else {
    const test = Math.round(o.rows * (o.testShare ?? 0.32));
    plan.push({ path: join(dir, "UNSW_NB15_training-set.csv"), eol: "\n", rows: o.rows - test, test: false });
    plan.push({ path: join(dir, "UNSW_NB15_testing-set.csv"), eol: "\n", rows: test, test: true });
  }
  const infRate = o.nonFiniteRate ?? 0.003;
  for (const p of plan) {
    const w = new LineWriter(p.path, p.eol);
    w.line((dataset === "cic-ids2017" ? CIC_HEADER : UNSW_HEADER).join(","));
    const recent: { line: string; label: string }[] = [];
    for (let i = 0; i < p.rows; i++) {
      let row: { line: string; label: string };
      if (recent.length > 0 && rng.bernoulli(dupRate)) {
        row = recent[rng.int(recent.length)]!;
        report.duplicates++;
      } else {
        const f = traffic.row(rng);
        if (dataset === "cic-ids2017") {
          const u = rng.next();
          const quirk = u < infRate ? "inf" : u < infRate * (4 / 3) ? "nan" : null;
          if (quirk === "inf") report.infinityRows++;
          if (quirk === "nan") report.nanRows++;
          row = { line: cicRow(f, cicLabel(f.label, rng), quirk), label: f.label };
          if (!quirk && report.sample.length < 200) report.sample.push({ label: f.label, x: [...f.x] });
        } else {
          let cat = f.family === BENIGN ? "Normal" : f.label;
          if (cat === "Fuzzers" && rng.bernoulli(0.5)) cat = " Fuzzers ";
          if (cat === "Backdoor" && p.test) cat = "Backdoors";
          row = { line: unswRow(f, cat, f.malicious, rng, p.test), label: f.label };
          if (report.sample.length < 200) report.sample.push({ label: f.label, x: [...f.x] });
        }
        recent.push(row);
        if (recent.length > 1000) recent[rng.int(1000)] = recent.pop()!;
      }
      count(row.label);
      w.line(dataset === "cic-ids2017" ? row.line : `${i + 1},${row.line}`);
      report.rows++;
    }
    w.close();
    report.files.push(p.path);
    report.bytes += w.bytes;
  }
  return report;
}
