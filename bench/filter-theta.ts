/**
 * How the diversity filter's θ relates to each env's state spread: the distribution of the mean
 * distance D from a state to k = 32 reference states, and the accept rate for a range of θ, on
 * 100 000 transitions from a uniform-random policy fed through the filter in batches of 256 (as the
 * learner does). Random-policy states are a stand-in for a learning agent's: they say what scale θ
 * lives on, not the exact rate a given run will see.
 *
 *   npx tsx bench/filter-theta.ts     → bench/results/filter-theta.{json,md}
 */
import { DiversityFilter } from "../federation/diversity";
import { sliceBatch } from "../core/batch";
import { machineInfo, percentile, recordTransitions, writeResult, writeText } from "./util";

const N = 100_000, BATCH = 256, K = 32;
const THETAS = [0.15, 0.5, 1, 2, 4];
const cfg = (theta: number) => ({ k: K, theta, reservoir: 4096, replayCapacity: 100_000 });

const out: Record<string, unknown>[] = [];
for (const env of ["CartPole-v1", "LunarLander-v3"]) {
  const b = recordTransitions(env, N, 7);
  // D of every state against the reservoir as it stands (θ = 0 accepts all, so the reservoir fills as in a run)
  const probe = new DiversityFilter(b.obsDim, cfg(0), 3);
  const D: number[] = [];
  for (let s = 0; s < N; s += BATCH) {
    const part = sliceBatch(b, s, Math.min(N, s + BATCH));
    for (let i = 0; i < part.n; i++) {
      const d = probe.meanDistance(part.obs, i);
      if (Number.isFinite(d)) D.push(d);
    }
    probe.keep(part);
  }
  const rates = THETAS.map((theta) => {
    const f = new DiversityFilter(b.obsDim, cfg(theta), 3);
    for (let s = 0; s < N; s += BATCH) f.keep(sliceBatch(b, s, Math.min(N, s + BATCH)));
    return { theta, acceptRate: f.acceptRate };
  });
  const q = (p: number) => percentile(D, p);
  out.push({ env, transitions: N, k: K, meanDistance: { p1: q(1), p5: q(5), p25: q(25), p50: q(50), p75: q(75) }, rates });
  process.stderr.write(`${env}: D p1 ${q(1).toFixed(3)} p5 ${q(5).toFixed(3)} p50 ${q(50).toFixed(3)}; ${rates.map((r) => `θ=${r.theta}: ${(100 * r.acceptRate).toFixed(1)}%`).join(", ")}\n`);
}
const rows = out.map((o) => {
  const m = o.meanDistance as Record<string, number>, rates = o.rates as { theta: number; acceptRate: number }[];
  return `| ${o.env} | ${["p1", "p5", "p25", "p50"].map((p) => m[p]!.toFixed(3)).join(" / ")} | ${rates.map((r) => `${(100 * r.acceptRate).toFixed(1)} %`).join(" | ")} |`;
});
writeText("filter-theta.md", `# Diversity filter: mean distance D to k = ${K} reference states, and accept rate by θ\n\n${N.toLocaleString("en")} transitions per env from a uniform-random policy, fed in batches of ${BATCH}; reservoir 4096 mirroring a 100k replay.\n\n| env | D p1 / p5 / p25 / p50 | ${THETAS.map((t) => `θ = ${t}`).join(" | ")} |\n|---|---|${THETAS.map(() => "---").join("|")}|\n${rows.join("\n")}\n\nMachine: ${JSON.stringify(machineInfo())}. Run: \`npx tsx bench/filter-theta.ts\`.\n`);
writeResult("filter-theta", { results: out });
