import { expect } from "chai";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * `fedrl run` with IoT env options it must refuse before anything starts: exit 2 and exactly one
 * line on stderr naming the offending key (and the valid ones) or the dataset file and its problem.
 */
const BIN = "bin/fedrl.mjs";
const FIX = join(process.cwd(), "test/fixtures/iot");
const env = { ...process.env, NATS_URL: "", REDIS_URL: "", FEDRL_DEBUG: "" };

function fedrl(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { env, cwd: process.cwd() });
    let stderr = "", stdout = "";
    c.stderr.on("data", (d) => (stderr += d));
    c.stdout.on("data", (d) => (stdout += d));
    c.on("exit", (code) => resolve({ code, stderr, stdout }));
  });
}

describe("fedrl run: IoT env options and dataset files are checked first (one line, exit 2)", function () {
  this.timeout(90_000);
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "iot-cli-"));
    const cic = (name: string, text: string) => { mkdirSync(join(dir, name, "cic-ids2017"), { recursive: true }); writeFileSync(join(dir, name, "cic-ids2017", "a.csv"), text); };
    const fixture = readFileSync(join(FIX, "cic-ids2017", "fixture-a.csv"), "utf8").split("\n");
    cic("nolabel", " Destination Port, Flow Duration\n80,100\n");
    cic("open", `${fixture[0]}\n${fixture[1]!.replace(/BENIGN$/, '"BENIGN')}\n`);
    cic("unknown", `${fixture[0]}\n${fixture.slice(1, 4).map((l) => l.replace(/BENIGN$/, "Benign-ish")).join("\n")}\n`);
    mkdirSync(join(dir, "empty", "cic-ids2017"), { recursive: true });
    mkdirSync(join(dir, "unsw", "unsw-nb15"), { recursive: true });
    copyFileSync(join(FIX, "unsw-nb15", "UNSW_NB15_training-set.csv"), join(dir, "unsw", "unsw-nb15", "UNSW_NB15_training-set.csv"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, string[], RegExp][] = [
    ["unknown top-level key", ["env.options.bogus=1"],
      /^config error: config: env\.options: unknown key bogus for IoTIntrusion-v0; valid: maxEpisodeSteps, seed, site, sites, alpha, splitSeed, source, calibration, maliciousShare, dataDir, split, maxPerFamily, reward, dynamics$/],
    ["unknown dynamics key", ["env.options.dynamics.bogus=1"], /dynamics: unknown key bogus; valid: devices, attackIntensity, .*alertFPR$/],
    ["negative reward weight", ["env.options.reward.tp=-1"], /reward\.tp must be a finite number ≥ 0, got -1$/],
    ["unknown calibration", ["env.options.calibration=foo"], /calibration must be one of cic-ids2017, unsw-nb15, got "foo"$/],
    ["unknown source", ["env.options.source=foo"], /source must be one of synthetic, cic-ids2017, unsw-nb15, got "foo"$/],
    ["malicious share above the site cap", ["env.options.maliciousShare=0.9"], /maliciousShare must be a number in \[0, dynamics\.maxSiteShare = 0\.6\], got 0\.9$/],
    ["missing dataset folder", ["env.options.source=cic-ids2017", "env.options.dataDir=/nonexistent-fedrl"],
      /^fedrl: env IoTIntrusion-v0: ENOENT: .*'\/nonexistent-fedrl\/cic-ids2017'; download the dataset \(data\/README\.md\) or use env\.options\.source: synthetic$/],
    ["UNSW-NB15 testing file missing", ["env.options.source=unsw-nb15", "env.options.dataDir=<dir>/unsw"], /UNSW-NB15 file not found: .*UNSW_NB15_testing-set\.csv; download the dataset/],
    ["folder without CSV files", ["env.options.source=cic-ids2017", "env.options.dataDir=<dir>/empty"], /no CIC-IDS2017 CSV files in .*empty\/cic-ids2017$/],
    ["CSV without the expected columns", ["env.options.source=cic-ids2017", "env.options.dataDir=<dir>/nolabel"], /nolabel\/cic-ids2017\/a\.csv: missing column "Total Fwd Packets"$/],
    ["CSV ending inside a quoted field", ["env.options.source=cic-ids2017", "env.options.dataDir=<dir>/open"], /open\/cic-ids2017\/a\.csv: file ends inside a quoted field$/],
    ["CSV whose labels are not the dataset's", ["env.options.source=cic-ids2017", "env.options.dataDir=<dir>/unknown"],
      /no benign rows \(3 data rows read from 1 file\(s\), 3 with labels not in cic-ids2017, e\.g\. "Benign-ish"\); check the files' label column$/],
  ];

  it("IoTIntrusion-v0: unknown keys, bad values, missing and malformed dataset files", async () => {
    const results = [];
    for (let i = 0; i < cases.length; i += 3) { // three at a time
      results.push(...await Promise.all(cases.slice(i, i + 3).map(async ([name, sets, want]) => {
        const args = ["run", "--set", "env.id=IoTIntrusion-v0", "--set", "budget.stepsPerActor=1", ...sets.flatMap((s) => ["--set", s.replace("<dir>", dir)])];
        return { name, want, r: await fedrl(args) };
      })));
    }
    for (const { name, want, r } of results) {
      const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
      expect(r.code, `${name}: ${r.stderr}`).to.equal(2);
      expect(lines, name).to.have.length(1);
      expect(lines[0], name).to.match(want);
      expect(r.stdout, name).to.equal("");
    }
  });

  it("IoTContainment-v0: unknown keys and out-of-range values", async () => {
    const [a, b] = await Promise.all([
      fedrl(["run", "--set", "env.id=IoTContainment-v0", "--set", "env.options.bogus=1"]),
      fedrl(["run", "--set", "env.id=IoTContainment-v0", "--set", "env.options.alertTPR=2"]),
    ]);
    for (const r of [a, b]) {
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr.trim().split("\n")).to.have.length(1);
    }
    expect(a.stderr.trim()).to.match(/unknown key bogus for IoTContainment-v0; valid: .*intrusionRate, dwellSteps, noiseRate, noiseSteps, noiseFPR$/);
    expect(b.stderr.trim()).to.match(/alertTPR is a probability, got 2$/);
  });
});
