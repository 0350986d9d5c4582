/**
 * The IoT dataset loaders at realistic size: writes a synthetic CSV of each dataset's layout and
 * quirks (envs/iot/dataset-csv.ts; 1 M rows by default) into a temporary folder, streams it
 * through loadDataset / loadDatasetSync in a fresh child process per run, and records rows/s and,
 * every 50k rows, the process's RSS and then — after a full GC — its live heap (V8 lets garbage
 * pile up between major GCs, so RSS alone over-states what the loader holds; the GCs cost some
 * rows/s). Flat live heap = bounded memory. Writes bench/results/iot-loaders{-TAG}.{json,md};
 * the generated files are deleted afterwards.
 *
 *   npm run bench:iot-loaders -- [--rows 1000000] [--tag NAME] [--datasets cic-ids2017,unsw-nb15] [--loaders MODULE]
 *
 * --loaders MODULE runs another version of envs/iot/loaders.ts, e.g. an older commit's:
 *   git archive <commit> envs core | tar -x -C /tmp/old && ln -s $PWD/node_modules /tmp/old/
 *   npm run bench:iot-loaders -- --loaders /tmp/old/envs/iot/loaders.ts --tag before
 * (it must accept the onProgress/progressEvery options).
 *
 * Runs per dataset: async loader and sync loader with maxPerFamily 10000 (what an env keeps is
 * bounded, so RSS must level off), and the sync loader with no cap (every distinct row is kept:
 * memory grows by design; the run gives the bytes per kept row).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DatasetId } from "../envs/iot/families";
import { writeDatasetCsv } from "../envs/iot/dataset-csv";
import type { LoadedDataset, LoadOptions } from "../envs/iot/loaders";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { runInChild, writeResult, writeText } from "./util";

interface Job { dataset: DatasetId; path: string | string[]; loader: "async" | "sync"; maxPerFamily: number | null; every: number; module?: string }
interface Sample { rows: number; seconds: number; rssMiB: number; liveHeapMiB: number; externalMiB: number }
interface RunResult {
  job: Omit<Job, "path">;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  samples: Sample[];
  kept: number;
  duplicates: number;
  nonFinite: number;
  unknownLabels: number;
  rssStartMiB: number;
  rssPeakMiB: number;
  /** RSS growth per 100k rows over the second half of the file (least squares) */
  rssSlopeMiBPer100k: number;
  liveHeapPeakMiB: number;
  /** live-heap growth per 100k rows over the second half */
  liveSlopeMiBPer100k: number;
  /** RSS after the load minus before, per kept row (meaningful when every row is kept) */
  bytesPerKeptRow: number;
}

const MiB = 2 ** 20;

/** Least-squares slope of y over rows, per 100k rows, on the second half of the samples. */
function slope(samples: Sample[], y: (s: Sample) => number): number {
  const last = samples.at(-1)!.rows;
  const second = samples.filter((s) => s.rows >= last / 2);
  const mx = second.reduce((a, s) => a + s.rows, 0) / second.length, my = second.reduce((a, s) => a + y(s), 0) / second.length;
  const sxy = second.reduce((a, s) => a + (s.rows - mx) * (y(s) - my), 0), sxx = second.reduce((a, s) => a + (s.rows - mx) ** 2, 0);
  return sxx > 0 ? (sxy / sxx) * 100_000 : 0;
}

async function child(job: Job): Promise<RunResult> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const { loadDataset, loadDatasetSync } = (await import(job.module ?? "../envs/iot/loaders")) as typeof import("../envs/iot/loaders");
  const samples: Sample[] = [];
  let gcSeconds = 0;
  const t0 = performance.now();
  const sample = (rows: number) => {
    const rss = process.memoryUsage.rss();
    const g0 = performance.now();
    gc();
    gcSeconds += (performance.now() - g0) / 1000;
    const m = process.memoryUsage();
    samples.push({ rows, seconds: (performance.now() - t0) / 1000 - gcSeconds, rssMiB: rss / MiB, liveHeapMiB: m.heapUsed / MiB, externalMiB: m.external / MiB });
  };
  sample(0);
  const opts: LoadOptions = { maxPerFamily: job.maxPerFamily ?? undefined, onProgress: (n) => sample(n), progressEvery: job.every };
  const d: LoadedDataset = job.loader === "async" ? await loadDataset(job.dataset, job.path, opts) : loadDatasetSync(job.dataset, job.path, opts);
  const seconds = (performance.now() - t0) / 1000 - gcSeconds; // the forced GCs are the bench's, not the loader's
  sample(d.stats.rows);
  const kept = d.train.length + d.test.length;
  const { path: _p, ...rest } = job;
  return {
    job: rest, rows: d.stats.rows, seconds, rowsPerSecond: d.stats.rows / seconds, samples, kept,
    duplicates: d.stats.duplicates, nonFinite: d.stats.nonFinite, unknownLabels: Object.keys(d.stats.unknownLabels).length,
    rssStartMiB: samples[0]!.rssMiB, rssPeakMiB: Math.max(...samples.map((s) => s.rssMiB)),
    rssSlopeMiBPer100k: slope(samples, (s) => s.rssMiB),
    liveHeapPeakMiB: Math.max(...samples.map((s) => s.liveHeapMiB)),
    liveSlopeMiBPer100k: slope(samples, (s) => s.liveHeapMiB),
    bytesPerKeptRow: ((samples.at(-1)!.liveHeapMiB - samples[0]!.liveHeapMiB) * MiB) / Math.max(1, kept),
  };
}

async function main() {
  const { values } = parseArgs({ options: {
    job: { type: "string" }, rows: { type: "string", default: "1000000" }, tag: { type: "string" },
    datasets: { type: "string", default: "cic-ids2017,unsw-nb15" }, loaders: { type: "string" }, help: { type: "boolean", short: "h" },
  } });
  if (values.job) {
    console.log(JSON.stringify(await child(JSON.parse(values.job) as Job)));
    return;
  }
  if (values.help) {
    console.log("usage: npm run bench:iot-loaders -- [--rows N (1000000)] [--tag NAME] [--datasets cic-ids2017,unsw-nb15] [--loaders MODULE]\n" +
      "  writes N synthetic rows per dataset to a temporary folder, loads them (async and sync, maxPerFamily 10000; sync uncapped)\n" +
      "  in a child process each, samples RSS and live heap; results in bench/results/iot-loaders[-TAG].{json,md}");
    return;
  }
  const rows = Number(values.rows);
  if (!(Number.isInteger(rows) && rows >= 1000)) throw new Error(`--rows must be an integer ≥ 1000, got ${values.rows}`);
  const datasets = values.datasets!.split(",") as DatasetId[];
  for (const d of datasets) if (d !== "cic-ids2017" && d !== "unsw-nb15") throw new Error(`--datasets: unknown dataset "${d}"`);
  const every = Math.max(1000, Math.round(rows / 20));
  const name = `iot-loaders${values.tag ? `-${values.tag}` : ""}`;
  const results: { dataset: DatasetId; generated: Record<string, unknown>; runs: RunResult[] }[] = [];
  const module = values.loaders ? resolve(values.loaders) : undefined;
  const md = [`# IoT dataset loaders at ${rows.toLocaleString("en")} rows${module ? ` (loaders from ${values.loaders})` : ""}`, "",
    "Synthetic CSVs in each dataset's real layout and quirks (envs/iot/dataset-csv.ts) in a temporary folder, streamed through",
    `the loaders in a fresh process per run. Every ${every.toLocaleString("en")} rows: RSS, then a full GC and the live heap`,
    "(rows/s exclude those GCs). `npm run bench:iot-loaders`.", ""];
  for (const dataset of datasets) {
    const dir = mkdtempSync(join(tmpdir(), `fedrl-${dataset}-`));
    try {
      const g0 = performance.now();
      const rep = writeDatasetCsv(dataset, dir, { rows, seed: 1 });
      const genSeconds = (performance.now() - g0) / 1000;
      const bytes = rep.files.reduce((a, f) => a + statSync(f).size, 0);
      const generated = { files: rep.files.length, rows: rep.rows, MiB: bytes / MiB, duplicates: rep.duplicates, infinityRows: rep.infinityRows, nanRows: rep.nanRows, seconds: genSeconds };
      console.error(`${dataset}: wrote ${rows} rows, ${(bytes / MiB).toFixed(0)} MiB in ${genSeconds.toFixed(1)} s`);
      const path = dataset === "cic-ids2017" ? rep.files : dir;
      const runs: RunResult[] = [];
      for (const [loader, maxPerFamily] of [["async", 10_000], ["sync", 10_000], ["sync", null]] as const) {
        const r = await runInChild<RunResult>(fileURLToPath(import.meta.url), { dataset, path, loader, maxPerFamily, every, module } satisfies Job);
        console.error(`  ${loader} cap ${maxPerFamily ?? "none"}: ${Math.round(r.rowsPerSecond)} rows/s, RSS ${r.rssStartMiB.toFixed(0)} → peak ${r.rssPeakMiB.toFixed(0)} MiB (slope ${r.rssSlopeMiBPer100k.toFixed(1)} MiB/100k rows), live heap peak ${r.liveHeapPeakMiB.toFixed(0)} MiB (slope ${r.liveSlopeMiBPer100k.toFixed(1)})`);
        runs.push(r);
      }
      results.push({ dataset, generated, runs });
      md.push(`## ${dataset}`, "",
        `${rep.files.length} file(s), ${(bytes / MiB).toFixed(0)} MiB, ${rep.duplicates.toLocaleString("en")} duplicate rows written` +
        (dataset === "cic-ids2017" ? `, ${rep.infinityRows} Infinity and ${rep.nanRows} NaN rows` : "") + `; written in ${genSeconds.toFixed(1)} s.`, "",
        "| loader | maxPerFamily | rows/s | RSS start → peak (MiB) | RSS slope, 2nd half (MiB / 100k rows) | live heap peak (MiB) | live heap slope, 2nd half (MiB / 100k rows) | kept rows | duplicates dropped | live heap per kept row (bytes) |",
        "|---|---|---|---|---|---|---|---|---|---|");
      for (const r of runs) {
        md.push(`| ${r.job.loader} | ${r.job.maxPerFamily ?? "none"} | ${Math.round(r.rowsPerSecond).toLocaleString("en")} | ${r.rssStartMiB.toFixed(0)} → ${r.rssPeakMiB.toFixed(0)} | ${r.rssSlopeMiBPer100k.toFixed(1)} | ${r.liveHeapPeakMiB.toFixed(0)} | ${r.liveSlopeMiBPer100k.toFixed(1)} | ${r.kept.toLocaleString("en")} | ${r.duplicates.toLocaleString("en")} | ${r.job.maxPerFamily === null ? Math.round(r.bytesPerKeptRow) : "—"} |`);
      }
      md.push("", "RSS / live heap (MiB) over rows read:", "", "| rows | " + runs.map((r) => `${r.job.loader}, cap ${r.job.maxPerFamily ?? "none"}`).join(" | ") + " |",
        "|---|" + runs.map(() => "---|").join(""));
      for (let i = 0; i < runs[0]!.samples.length; i++) {
        md.push(`| ${runs[0]!.samples[i]!.rows.toLocaleString("en")} | ` + runs.map((r) => (r.samples[i] ? `${r.samples[i]!.rssMiB.toFixed(0)} / ${r.samples[i]!.liveHeapMiB.toFixed(0)}` : "")).join(" | ") + " |");
      }
      md.push("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  writeResult(name, { rows, every, results });
  writeText(`${name}.md`, md.join("\n"));
  console.log(md.join("\n"));
}

await main();
