/**
 * Rows/s of the IoT CSV reader on a generated large file (not part of `npm test`):
 *   npx tsx test/iot/csv-throughput.ts [rows=200000] [repeats=3]
 * The file repeats the synthetic CIC-IDS2017 fixture rows (test/fixtures/iot, written by
 * make-fixtures.ts) with a varying destination port, every 50th label quoted, CRLF line ends,
 * into a temporary folder; it prints rows/s of readCsvSync, readCsv and loadDatasetSync
 * (median of the repeats).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCsv, readCsvSync } from "../../envs/iot/csv";
import { loadDatasetSync } from "../../envs/iot/loaders";

const rows = Number(process.argv[2] ?? 200_000);
const repeats = Number(process.argv[3] ?? 3);
const src = readFileSync(join(process.cwd(), "test/fixtures/iot/cic-ids2017/fixture-a.csv"), "utf8").split("\n").filter((l) => l.length > 0);
const [header, ...data] = src;
const dir = mkdtempSync(join(tmpdir(), "csv-tp-"));
const file = join(dir, "large.csv");
const out: string[] = [header!];
for (let i = 0; i < rows; i++) {
  const cells = data[i % data.length]!.split(",");
  cells[0] = String(1 + (i % 65535));
  cells[1] = String(1000 + i);
  if (i % 50 === 0) cells[cells.length - 1] = `"${cells[cells.length - 1]}"`;
  out.push(cells.join(","));
}
writeFileSync(file, out.join("\r\n") + "\r\n");
const mb = statSync(file).size / 2 ** 20;

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function time(name: string, f: () => Promise<number> | number) {
  const rates: number[] = [];
  for (let k = 0; k < repeats; k++) {
    const t0 = performance.now();
    const n = await f();
    const s = (performance.now() - t0) / 1000;
    rates.push(n / s);
  }
  console.log(`${name.padEnd(16)} ${Math.round(median(rates)).toLocaleString("en")} rows/s`);
}
console.log(`${rows} rows, ${mb.toFixed(1)} MiB, median of ${repeats}`);
await time("readCsvSync", () => { let n = 0; for (const _ of readCsvSync(file)) n++; return n - 1; });
await time("readCsv (async)", async () => { let n = 0; for await (const _ of readCsv(file)) n++; return n - 1; });
await time("loadDatasetSync", () => loadDatasetSync("cic-ids2017", [file]).stats.rows);
rmSync(dir, { recursive: true, force: true });
