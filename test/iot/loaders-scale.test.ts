import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CIC_HEADER, UNSW_HEADER, writeDatasetCsv, type DatasetCsvReport } from "../../envs/iot/dataset-csv";
import { loadDataset, loadDatasetSync, parseNumber, RowFilter, type LoadedDataset } from "../../envs/iot/loaders";
import { normaliseLabel, type DatasetId } from "../../envs/iot/families";
import { Rng } from "../../envs/iot/rng";

/** What the loader should report, counted independently from the written lines. */
function expectedFromFiles(dataset: DatasetId, files: string[]) {
  let rows = 0, nonFinite = 0;
  const distinct = [new Set<string>(), new Set<string>()];
  for (const [fi, f] of files.entries()) {
    const lines = readFileSync(f, "utf8").split(/\r?\n/).filter((l) => l.length > 0);
    expect(lines[0]).to.equal((dataset === "cic-ids2017" ? CIC_HEADER : UNSW_HEADER).join(","));
    for (const line of lines.slice(1)) {
      rows++;
      const cells = line.split(",");
      if (dataset === "cic-ids2017") {
        for (const j of [14, 15]) if (!Number.isFinite(parseNumber(cells[j]!))) nonFinite++;
        distinct[0]!.add(cells.map((c) => c.trim()).join(","));
      } else {
        distinct[fi]!.add(cells.slice(1).map((c) => c.trim()).join(",")); // the id is not part of a row's content
      }
    }
  }
  return { rows, nonFinite, distinct: distinct[0]!.size + distinct[1]!.size };
}

/** Every sampled generated flow is among the loaded rows with the same canonical features (to the written precision). */
function checkRoundTrip(dataset: DatasetId, rep: DatasetCsvReport, d: LoadedDataset) {
  const loaded = [...d.train, ...d.test];
  const key = (label: string, x: ArrayLike<number>) => `${label}|${x[1]}|${x[2]}|${x[3]}|${x[4]}`;
  const byKey = new Map<string, Float64Array[]>();
  for (const f of loaded) {
    const k = key(f.label, f.x);
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push(f.x);
  }
  // features the layouts carry (CIC has no TTL, UNSW no port; UNSW keeps SYN only as synack > 0)
  const exact = dataset === "cic-ids2017" ? [1, 2, 3, 4, 10, 12, 13] : [1, 2, 3, 4, 11, 13];
  const close = dataset === "cic-ids2017" ? [0, 5, 6, 7, 8, 9] : [0, 5, 8, 9];
  let checked = 0;
  for (const s of rep.sample) {
    const cands = byKey.get(key(s.label, s.x));
    expect(cands, `${s.label} ${s.x.slice(1, 5)}`).to.not.equal(undefined);
    const x = cands!.reduce((b, c) => (Math.abs(c[0]! - s.x[0]!) < Math.abs(b[0]! - s.x[0]!) ? c : b));
    for (const j of exact) expect(x[j], `${s.label} feature ${j}`).to.equal(s.x[j]);
    for (const j of close) expect(x[j]!, `${s.label} feature ${j}`).to.be.closeTo(s.x[j]!, 1e-3 + 1e-5 * Math.abs(s.x[j]!));
    if (dataset === "unsw-nb15") expect(x[10]).to.equal(s.x[10]! > 0 ? 1 : 0);
    checked++;
  }
  expect(checked).to.equal(200);
}

describe("IoT loaders on generated files in the datasets' layouts (envs/iot/dataset-csv.ts)", function () {
  this.timeout(60_000);
  for (const dataset of ["cic-ids2017", "unsw-nb15"] as const) {
    it(`${dataset}: 20k rows with the quirks; counts, duplicates, non-finite cells and features agree with the files`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "iot-scale-"));
      try {
        const rep = writeDatasetCsv(dataset, dir, { rows: 20_000, seed: 3 });
        expect(rep.rows).to.equal(20_000);
        expect(rep.duplicates).to.be.greaterThan(1500);
        const path = dataset === "cic-ids2017" ? rep.files : dir;
        const want = expectedFromFiles(dataset, rep.files);
        const progress: number[] = [];
        const d = loadDatasetSync(dataset, path, { onProgress: (n) => progress.push(n), progressEvery: 5000 });
        expect(progress).to.deep.equal([5000, 10_000, 15_000, 20_000]);
        const s = d.stats;
        expect(s.rows).to.equal(want.rows);
        expect(s.duplicates).to.equal(want.rows - want.distinct);
        expect(s.kept.train + s.kept.test).to.equal(want.distinct);
        expect(s.unknownLabels).to.deep.equal({});
        if (dataset === "cic-ids2017") {
          expect(s.nonFinite).to.equal(want.nonFinite);
          expect(rep.infinityRows + rep.nanRows).to.be.greaterThan(40);
          expect(s.renamedColumns).to.deep.equal(["Fwd Header Length.1"]);
          expect(s.constantColumns).to.include.members(["Bwd PSH Flags", "Fwd Avg Bytes/Bulk", "Idle Max"]);
          // the mis-encoded web-attack labels were repaired (none unknown) and counted under the canonical spelling
          expect(Object.keys(s.labelCounts).every((l) => !/\uFFFD|â€/.test(l))).to.equal(true);
        } else {
          expect(d.scaler.json.categories!.proto).to.include.members(["tcp", "udp"]).and.not.include("ospf");
          expect(d.test.some((f) => f.categorical![0] === 0)).to.equal(true); // ospf only in the testing set: <unk>
          expect(s.familyCounts.backdoor ?? 0).to.be.greaterThan(0);
        }
        // every written label arrives (duplicates aside) under its canonical name
        for (const l of Object.keys(rep.labelCounts)) expect(s.labelCounts[normaliseLabel(l)], l).to.be.greaterThan(0);
        for (const f of [...d.train, ...d.test]) for (const v of f.x) if (!Number.isFinite(v)) expect.fail(`non-finite feature in ${f.label}`);
        checkRoundTrip(dataset, rep, d);
        // the async reader agrees, and maxPerFamily bounds what is kept without changing the counts
        const a = await loadDataset(dataset, path, { maxPerFamily: 500 });
        expect(a.stats.rows).to.equal(s.rows);
        expect(a.stats.duplicates).to.equal(s.duplicates);
        expect(a.stats.familyCounts).to.deep.equal(s.familyCounts);
        for (const split of [a.train, a.test]) {
          const per = new Map<string, number>();
          for (const f of split) per.set(f.family, (per.get(f.family) ?? 0) + 1);
          for (const n of per.values()) expect(n).to.be.at.most(500);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("RowFilter: never misses a repeat; false repeats near (1 − e^(−kn/m))^k", () => {
    const f = new RowFilter(16); // 64 Ki bits, 8 probes: small enough to fill
    const rng = new Rng(1);
    const n = 12_000;
    const added: [number, number][] = [];
    let falseRepeats = 0;
    for (let i = 0; i < n; i++) {
      const h: [number, number] = [Math.floor(rng.next() * 2 ** 32), Math.floor(rng.next() * 2 ** 32)];
      if (f.testAndAdd(h[0], h[1])) falseRepeats++;
      added.push(h);
    }
    for (const [a, b] of added) expect(f.testAndAdd(a, b)).to.equal(true);
    // expected false repeats over the fill: Σ_i (1 − e^(−8i/m))^8
    let expected = 0;
    for (let i = 0; i < n; i++) expected += (1 - Math.exp((-8 * i) / 2 ** 16)) ** 8;
    expect(expected).to.be.greaterThan(200);
    expect(falseRepeats).to.be.within(expected * 0.8, expected * 1.2);
    expect(new RowFilter().bytes).to.equal(16 * 2 ** 20);
    expect(() => new RowFilter(40)).to.throw(RangeError);
  });

  it("parseNumber: fast path for numbers, the spellings of infinity, NaN for the rest", () => {
    expect(parseNumber(" 12.5 ")).to.equal(12.5);
    expect(parseNumber("Infinity")).to.equal(Infinity);
    expect(parseNumber("inf")).to.equal(Infinity);
    expect(parseNumber("+Inf")).to.equal(Infinity);
    expect(parseNumber("-infinity")).to.equal(-Infinity);
    expect(parseNumber("NaN")).to.be.NaN;
    expect(parseNumber("")).to.be.NaN;
    expect(parseNumber("  ")).to.be.NaN;
    expect(parseNumber("12abc")).to.be.NaN;
  });
});
