import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCsv, readCsvSync } from "../../envs/iot/csv";
import { loadDataset, loadDatasetSync, normaliseHeader } from "../../envs/iot/loaders";
import { familyOf, normaliseLabel, CIC_IDS2017 } from "../../envs/iot/families";
import { MinMaxScaler } from "../../envs/iot/traffic";
import { make } from "../../envs/index";

const FIX = join(process.cwd(), "test/fixtures/iot");

describe("IoT CSV parser", () => {
  it("handles quoted fields with commas, doubled quotes and line breaks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iotcsv-"));
    const path = join(dir, "q.csv");
    writeFileSync(path, '\uFEFFa,b,c\r\n1,"x, y","say ""hi"""\r\n2,"multi\nline",\r\n"",3,z\n');
    const want = [["a", "b", "c"], ["1", "x, y", 'say "hi"'], ["2", "multi\nline", ""], ["", "3", "z"]];
    const got: string[][] = [];
    for await (const r of readCsv(path)) got.push(r);
    expect(got).to.deep.equal(want);
    expect([...readCsvSync(path)]).to.deep.equal(want);
    // records and multi-byte characters split across the synchronous reader's chunks
    for (const chunk of [1, 2, 3, 7]) expect([...readCsvSync(path, chunk)], `chunk ${chunk}`).to.deep.equal(want);
  });

  it("keeps the old reader's quirks: blank lines, ragged rows, literal quotes, mixed line ends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iotcsv-"));
    const path = join(dir, "r.csv");
    writeFileSync(path, 'h1,h2,h3\n\nWeb Attack \u2013 XSS,2\r\na"b,c,d,e\n"x","é\r\nz"');
    const want = [["h1", "h2", "h3"], [""], ["Web Attack \u2013 XSS", "2"], ['a"b', "c", "d", "e"], ["x", "é\r\nz"]];
    const got: string[][] = [];
    for await (const r of readCsv(path)) got.push(r);
    expect(got).to.deep.equal(want);
    expect([...readCsvSync(path, 5)]).to.deep.equal(want);
  });

  it("a file ending inside a quoted field is an error naming the file (both readers)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iotcsv-"));
    const path = join(dir, "open.csv");
    writeFileSync(path, 'a,b\n1,"open\nstill');
    expect(() => [...readCsvSync(path)]).to.throw(`${path}: file ends inside a quoted field`);
    let err: Error | null = null;
    try { for await (const _ of readCsv(path)) { /* drain */ } } catch (e) { err = e as Error; }
    expect(err?.message).to.equal(`${path}: file ends inside a quoted field`);
    let missing: NodeJS.ErrnoException | null = null;
    try { for await (const _ of readCsv(join(dir, "nope.csv"))) { /* drain */ } } catch (e) { missing = e as NodeJS.ErrnoException; }
    expect(missing?.code).to.equal("ENOENT");
  });
});

describe("IoT dataset labels and headers", () => {
  it("repairs mis-encoded web-attack dashes without touching FTP-Patator", () => {
    for (const raw of ["Web Attack \uFFFD Brute Force", "Web Attack â€“ Brute Force", "Web Attack \u2013 Brute Force", " Web Attack - Brute Force "]) {
      expect(normaliseLabel(raw)).to.equal("Web Attack - Brute Force");
      expect(familyOf(CIC_IDS2017, raw)).to.equal("webattack");
    }
    expect(normaliseLabel("FTP-Patator")).to.equal("FTP-Patator");
    expect(familyOf(CIC_IDS2017, "FTP-Patator")).to.equal("bruteforce");
  });
  it("trims header names and renames the duplicated Fwd Header Length", () => {
    const { names, renamed } = normaliseHeader([" Fwd Header Length", " Label", "Fwd Header Length "]);
    expect(names).to.deep.equal(["Fwd Header Length", "Label", "Fwd Header Length.1"]);
    expect(renamed).to.deep.equal(["Fwd Header Length.1"]);
  });
});

describe("IoT loaders on the synthetic fixtures", () => {
  it("CIC-IDS2017: every class, Infinity/NaN, duplicates, constant columns, train-only scaler", async () => {
    const d = await loadDataset("cic-ids2017", join(FIX, "cic-ids2017"));
    const s = d.stats;
    expect(s.rows).to.equal(23); // 11 + 12 data rows
    expect(s.duplicates).to.equal(1);
    expect(s.kept.train + s.kept.test).to.equal(22);
    expect(s.renamedColumns).to.deep.equal(["Fwd Header Length.1"]);
    expect(s.unknownLabels).to.deep.equal({});
    for (const c of CIC_IDS2017.classes) expect(s.labelCounts[c.label], c.label).to.be.greaterThan(0);
    expect(s.labelCounts["DDoS"]).to.equal(2);
    expect(s.familyCounts.webattack).to.equal(3);
    // Flow Bytes/s + Flow Packets/s: one Infinity row and one NaN row → 4 cells
    expect(s.nonFinite).to.equal(4);
    expect(s.constantColumns).to.include.members(["Bwd PSH Flags", "Fwd Avg Bytes/Bulk", "Idle Max"]);
    expect(s.constantColumns).to.not.include("Flow Duration");
    const all = [...d.train, ...d.test];
    // zero-duration DDoS row: 12 bytes, 2 packets over 1 µs → recomputed rates
    const inf = all.find((f) => f.label === "DDoS" && f.x[0] === 0)!;
    expect(inf.x[7]).to.be.closeTo(12 / 1e-6, 1e-3);
    expect(inf.x[8]).to.be.closeTo(2 / 1e-6, 1e-3);
    for (const f of all) for (const v of f.x) expect(Number.isFinite(v)).to.equal(true);
    const hulk = all.find((f) => f.label === "DoS Hulk")!;
    expect(hulk.x[0]).to.equal(5000); // 5e6 µs → 5000 ms
    expect(hulk.x[12]).to.equal(80);
    expect(hulk.family).to.equal("dos");
    // scaler fitted on the train split only: training rows land in [0, 1] with both ends hit
    const sc = d.scaler;
    expect(sc.json.fittedOn).to.match(/train split, \d+ rows/);
    expect(sc.json.fittedOn).to.contain(`${d.train.length} rows`);
    const j = 1; // fwd_pkts
    const vals = d.train.map((f) => sc.transform(f.x)[j]!);
    expect(Math.min(...vals)).to.equal(0);
    expect(Math.max(...vals)).to.be.closeTo(1, 1e-6);
    expect(sc.constantFeatures()).to.include("ttl"); // CIC has no TTL
  });

  it("CIC-IDS2017: the synchronous loader gives the same result", async () => {
    const a = await loadDataset("cic-ids2017", join(FIX, "cic-ids2017"));
    const b = loadDatasetSync("cic-ids2017", join(FIX, "cic-ids2017"));
    expect(b.stats).to.deep.equal(a.stats);
    expect(b.scaler.toJSON()).to.deep.equal(a.scaler.toJSON());
  });

  it("UNSW-NB15: official split, categorical vocabularies from train, duplicates ignoring id", async () => {
    const d = await loadDataset("unsw-nb15", join(FIX, "unsw-nb15"));
    expect(d.stats.rows).to.equal(18);
    expect(d.stats.duplicates).to.equal(1);
    expect(d.train.length).to.equal(12);
    expect(d.test.length).to.equal(5);
    expect(d.stats.familyCounts.fuzzers).to.equal(1); // " Fuzzers " trimmed
    expect(d.stats.familyCounts.backdoor).to.equal(2); // "Backdoor" and "Backdoors"
    const cats = d.scaler.json.categories!;
    expect(cats.proto).to.deep.equal(["<unk>", "tcp", "udp", "sctp"]);
    expect(cats.service).to.not.include("snmp");
    const exploitTest = d.test.find((f) => f.family === "exploits")!;
    expect([...exploitTest.categorical!]).to.deep.equal([0, 0, 0]); // ospf / snmp / REQ unseen in train
    const generic = d.train.find((f) => f.family === "generic")!;
    expect(generic.x[11]).to.equal(254); // sttl
    expect(generic.x[13]).to.equal(0); // udp
    expect(generic.x[0]).to.be.closeTo(0.008, 1e-12); // 8 µs in ms
    expect(d.stats.constantColumns).to.include("is_ftp_login");
    expect(d.stats.constantColumns).to.not.include("sbytes");
  });

  it("the scaler survives a JSON round trip, clips and maps constant features to 0", () => {
    const sc = MinMaxScaler.fit([[0, 5], [10, 5], [4, 5]], "unit", ["linear", "linear"], ["a", "b"]);
    const back = MinMaxScaler.fromJSON(JSON.stringify(sc.toJSON()));
    expect(back.toJSON()).to.deep.equal(sc.toJSON());
    expect([...back.transform([4, 5])]).to.deep.equal([Math.fround(0.4), 0]);
    expect([...back.transform([20, 9])]).to.deep.equal([1, 0]);
    expect([...back.transform([-3, NaN])]).to.deep.equal([0, 0]);
    expect(() => MinMaxScaler.fromJSON({ kind: "zscore" })).to.throw();
  });

  it("IoTIntrusion-v0 runs on loaded rows (source: cic-ids2017 / unsw-nb15)", () => {
    for (const source of ["cic-ids2017", "unsw-nb15"] as const) {
      const env = make("IoTIntrusion-v0", { source, dataDir: FIX, site: 0, sites: 2, alpha: 1 });
      let { obs } = env.reset({ seed: 1 });
      const families = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const r = env.step(0);
        families.add(r.info.family as string);
        obs = r.obs;
        expect([...obs].every((v) => Number.isFinite(v))).to.equal(true);
        if (r.truncated) break;
      }
      expect(families.has("benign")).to.equal(true);
    }
  });
});
