/**
 * `npm run bench`: the component benchmarks, one after another (each writes bench/results/<name>.json).
 * The long learning benchmarks run separately: `npm run bench:convergence`, `npm run bench:throughput`.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const suites: [string, string[]][] = [
  ["foundation.ts", []],
  ["envs.ts", []],
  ["agents.ts", []],
  ["iot-baselines.ts", []],
  ["filter-theta.ts", []],
];
let failed = 0;
for (const [file, args] of suites) {
  process.stderr.write(`\n== bench/${file}\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, file), ...args], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench/${file} failed with ${r.status}\n`);
  }
}
process.exit(failed ? 1 : 0);
