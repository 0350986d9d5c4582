/**
 * Scripted baselines on IoTIntrusion-v0 and IoTContainment-v0 (synthetic traffic, K = 5 sites,
 * α = 0.3), and the measured calibration of IoTIntrusion-v0's traffic (pooled malicious share and
 * attack-family mix against the dataset's, allow-all, 1 M flows per calibration).
 * Writes bench/results/iot-baselines.{json,md}.  Run: npx tsx bench/iot-baselines.ts
 * The table before issue #17's changes is kept in bench/results/iot-baselines-before-17.md.
 */
import { make } from "../envs/index";
import { IoTIntrusionEnv, ALLOW } from "../envs/iot/intrusion";
import { PROFILES, attackMix, attackShare } from "../envs/iot/families";
import {
  allowAll, blockAll, collectIntrusionSamples, containmentOracle, doNothing, evaluateEpisodes, fitThresholdRule,
  intrusionOracle, isolateOnAlert, monitorThenPatch, patchOnAlert, runContainmentEpisode, runIntrusionEpisode, thresholdRule,
  type ContainmentEpisode, type Episode, type Policy,
} from "../envs/iot/baselines";
import { writeResult, writeText } from "./util";

const K = 5, ALPHA = 0.3;
const EVAL_SEEDS = Array.from({ length: 20 }, (_, i) => i);
const FIT_SEEDS = [1000, 1001, 1002, 1003, 1004];
const CAL_SPLITS = 10, CAL_EPISODES = 100; // × K sites × 200 flows = 1 M flows per calibration
const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

const t0 = performance.now();
const intrusion: Record<string, unknown> = {};
const md: string[] = ["# IoT baselines", "", `K = ${K} sites, α = ${ALPHA}, eval seeds ${EVAL_SEEDS[0]}–${EVAL_SEEDS.at(-1)} per site (200 flows each), synthetic traffic.`,
  "Threshold rule: one observation field, fitted per site for best F1 on seeds " + FIT_SEEDS.join(",") + " under allow-all.",
  "Before issue #17 (campaigns ~41 % malicious, old IoTContainment-v0 dynamics): bench/results/iot-baselines-before-17.md.", ""];

// ---------------------------------------------------------------- calibration, measured
const calibrationResults: Record<string, unknown> = {};
md.push("## IoTIntrusion-v0 traffic calibration (measured)", "",
  `Allow-all, K = ${K}, α = ${ALPHA}, split seeds 0–${CAL_SPLITS - 1}, ${CAL_EPISODES} episodes of 200 flows per site and split (every episode its own seed).`,
  "Per-site shares vary with α by design; the pooled figures are the ones calibrated.", "",
  "| calibration | flows | malicious share: measured / dataset | worst family: measured / dataset (share of malicious flows) | per-site share: min – median – max |",
  "|---|---|---|---|---|");
const mixLines: string[] = [];
for (const calibration of ["cic-ids2017", "unsw-nb15"] as const) {
  let flows = 0, mal = 0;
  const fam: Record<string, number> = {};
  const siteShares: number[] = [];
  for (let split = 0; split < CAL_SPLITS; split++) {
    for (let site = 0; site < K; site++) {
      const env = new IoTIntrusionEnv({ site, sites: K, alpha: ALPHA, splitSeed: split, calibration });
      siteShares.push(env.plan.share);
      for (let ep = 0; ep < CAL_EPISODES; ep++) {
        env.reset({ seed: 100_000 * split + 1000 * site + ep });
        for (let i = 0; i < 200; i++) {
          const r = env.step(ALLOW);
          flows++;
          if (r.info.label === 1) { mal++; fam[r.info.family as string] = (fam[r.info.family as string] ?? 0) + 1; }
        }
      }
    }
  }
  const p = PROFILES[calibration], want = attackMix(p);
  const mix = Object.fromEntries(p.families.map((fm, i) => [fm, { measured: (fam[fm] ?? 0) / mal, dataset: want[i]! }]));
  const worst = p.families.reduce((w, fm) => (Math.abs(mix[fm]!.measured - mix[fm]!.dataset) > Math.abs(mix[w]!.measured - mix[w]!.dataset) ? fm : w));
  siteShares.sort((a, b) => a - b);
  calibrationResults[calibration] = { flows, share: { measured: mal / flows, dataset: attackShare(p) }, mix, siteShares };
  const pc = (x: number) => (100 * x).toFixed(2) + " %";
  md.push(`| ${calibration} | ${flows.toLocaleString("en")} | ${pc(mal / flows)} / ${pc(attackShare(p))} | ${worst}: ${pc(mix[worst]!.measured)} / ${pc(mix[worst]!.dataset)} | ${pc(siteShares[0]!)} – ${pc(siteShares[Math.floor(siteShares.length / 2)]!)} – ${pc(siteShares.at(-1)!)} |`);
  mixLines.push(`${calibration} family mix, % of malicious flows (measured / dataset): ` + p.families.map((fm) => `${fm} ${(100 * mix[fm]!.measured).toFixed(2)} / ${(100 * mix[fm]!.dataset).toFixed(2)}`).join(", "));
}
md.push("", ...mixLines.flatMap((l) => [l, ""]));

for (const calibration of ["cic-ids2017", "unsw-nb15"] as const) {
  const envs = Array.from({ length: K }, (_, site) => make("IoTIntrusion-v0", { site, sites: K, alpha: ALPHA, calibration }));
  const rules = envs.map((e) => fitThresholdRule(collectIntrusionSamples(e, FIT_SEEDS)));
  const policies: Record<string, (site: number) => Policy> = {
    "allow-all": () => allowAll,
    "block-all": () => blockAll,
    "threshold": (k) => thresholdRule(rules[k]!.field, rules[k]!.threshold, rules[k]!.above),
    "oracle": () => intrusionOracle,
  };
  const rows: Record<string, unknown> = {};
  md.push(`## IoTIntrusion-v0, calibration ${calibration}`, "", `Sites' malicious shares: ${envs.map((e) => ((e as any).inner.plan.share * 100).toFixed(1) + " %").join(", ")}.`, "",
    "| policy | return (mean ± sd, 200 steps) | acc | prec | recall | F1 | FPR | ROC-AUC | PR-AUC | worst-site F1 gap | worst-device-type F1 gap |",
    "|---|---|---|---|---|---|---|---|---|---|---|");
  for (const [name, mk] of Object.entries(policies)) {
    const eps: Episode[] = [];
    envs.forEach((env, k) => { for (const s of EVAL_SEEDS) eps.push(runIntrusionEpisode(env, mk(k), s)); });
    const r = evaluateEpisodes(eps);
    rows[name] = { meanReturn: r.meanReturn, stdReturn: r.stdReturn, ...r.overall, rocAuc: r.rocAuc, prAuc: r.prAuc,
      familyRecall: r.familyRecall, worstGroupF1Gap: r.worstGroupF1Gap, worstGroup: r.worstGroup,
      siteF1: Object.fromEntries(Object.entries(r.slices.site ?? {}).map(([g, m]) => [g, m.f1])) };
    md.push(`| ${name} | ${f(r.meanReturn, 1)} ± ${f(r.stdReturn, 1)} | ${f(r.overall.accuracy)} | ${f(r.overall.precision)} | ${f(r.overall.recall)} | ${f(r.overall.f1)} | ${f(r.overall.fpr)} | ${f(r.rocAuc)} | ${f(r.prAuc)} | ${f(r.worstGroupF1Gap.site ?? NaN)} | ${f(r.worstGroupF1Gap.deviceType ?? NaN)} |`);
  }
  md.push("", "Fitted threshold rules: " + rules.map((r, k) => `site ${k}: ${r.name} ${r.above ? ">" : "<"} ${f(r.threshold)} (fit F1 ${f(r.f1)})`).join("; "), "");
  intrusion[calibration] = { rules, policies: rows, siteShares: envs.map((e) => (e as any).inner.plan.share), familyMix: envs.map((e) => Object.fromEntries((e as any).inner.families.map((fam: string, i: number) => [fam, (e as any).inner.familyMix[i]]))) };
}

const containment: Record<string, unknown> = {};
const CSEEDS = Array.from({ length: 10 }, (_, i) => i);
md.push("## IoTContainment-v0", "", `K = ${K} sites × seeds 0–9, 100 steps (the attacker keeps breaking in, so episodes run to the limit).`, "",
  "| policy | return (mean ± sd) | steps with no compromise | mean compromised devices | patches / episode | of which on clean devices | isolations of clean devices / episode |",
  "|---|---|---|---|---|---|---|");
const cpol: Record<string, Policy> = { "do-nothing": doNothing, "isolate-on-alert": isolateOnAlert, "patch-on-alert": patchOnAlert,
  "monitor-then-patch": monitorThenPatch, "oracle (patch compromised)": containmentOracle };
for (const [name, pol] of Object.entries(cpol)) {
  const res: ContainmentEpisode[] = [];
  for (let site = 0; site < K; site++) {
    const env = make("IoTContainment-v0", { site, sites: K, alpha: ALPHA });
    for (const s of CSEEDS) res.push(runContainmentEpisode(env, pol, s));
  }
  const mean = (f: (r: (typeof res)[number]) => number) => res.reduce((a, r) => a + f(r), 0) / res.length;
  const m = mean((r) => r.ret);
  const sd = Math.sqrt(mean((r) => (r.ret - m) ** 2));
  const row = { meanReturn: m, stdReturn: sd, cleanSteps: mean((r) => r.cleanSteps), meanLength: mean((r) => r.length),
    meanCompromised: mean((r) => r.meanCompromised), patches: mean((r) => r.patches), wastedPatches: mean((r) => r.wastedPatches),
    wastedIsolations: mean((r) => r.wastedIsolations), cleanedFraction: mean((r) => (r.cleaned ? 1 : 0)), episodes: res.length };
  containment[name] = row;
  md.push(`| ${name} | ${f(m, 2)} ± ${f(sd, 2)} | ${(row.cleanSteps * 100).toFixed(0)} % | ${f(row.meanCompromised, 2)} | ${f(row.patches, 1)} | ${f(row.wastedPatches, 1)} | ${f(row.wastedIsolations, 1)} |`);
}
const seconds = (performance.now() - t0) / 1000;
md.push("", `Runtime ${seconds.toFixed(1)} s.`, "");
writeResult("iot-baselines", { K, alpha: ALPHA, evalSeeds: EVAL_SEEDS, fitSeeds: FIT_SEEDS, calibration: calibrationResults, intrusion, containment, seconds });
writeText("iot-baselines.md", md.join("\n"));
console.log(md.join("\n"));
