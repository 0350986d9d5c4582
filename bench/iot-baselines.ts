/**
 * Scripted baselines on IoTIntrusion-v0 and IoTContainment-v0 (synthetic traffic, K = 5 sites,
 * α = 0.3). Writes bench/results/iot-baselines.{json,md}.  Run: npx tsx bench/iot-baselines.ts
 */
import { make } from "../envs/index";
import {
  allowAll, blockAll, collectIntrusionSamples, containmentOracle, doNothing, evaluateEpisodes, fitThresholdRule,
  intrusionOracle, isolateOnAlert, patchOnAlert, runContainmentEpisode, runIntrusionEpisode, thresholdRule,
  type Episode, type Policy,
} from "../envs/iot/baselines";
import { writeResult, writeText } from "./util";

const K = 5, ALPHA = 0.3;
const EVAL_SEEDS = [0, 1, 2, 3, 4];
const FIT_SEEDS = [1000, 1001, 1002];
const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

const t0 = performance.now();
const intrusion: Record<string, unknown> = {};
const md: string[] = ["# IoT baselines", "", `K = ${K} sites, α = ${ALPHA}, eval seeds ${EVAL_SEEDS.join(",")} per site, synthetic traffic.`,
  "Threshold rule: one observation field, fitted per site for best F1 on seeds " + FIT_SEEDS.join(",") + " under allow-all.", ""];

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
  md.push(`## IoTIntrusion-v0, calibration ${calibration}`, "",
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
  intrusion[calibration] = { rules, policies: rows, familyMix: envs.map((e) => Object.fromEntries((e as any).inner.families.map((fam: string, i: number) => [fam, (e as any).inner.familyMix[i]]))) };
}

const containment: Record<string, unknown> = {};
const CSEEDS = Array.from({ length: 10 }, (_, i) => i);
md.push("## IoTContainment-v0", "", `K = ${K} sites × seeds 0–9 (100-step limit).`, "",
  "| policy | return (mean ± sd) | cleaned | mean length | mean compromised devices |", "|---|---|---|---|---|");
const cpol: Record<string, Policy> = { "do-nothing": doNothing, "isolate-on-alert": isolateOnAlert, "patch-on-alert": patchOnAlert, "oracle (patch compromised)": containmentOracle };
for (const [name, pol] of Object.entries(cpol)) {
  const res = [];
  for (let site = 0; site < K; site++) {
    const env = make("IoTContainment-v0", { site, sites: K, alpha: ALPHA });
    for (const s of CSEEDS) res.push(runContainmentEpisode(env, pol, s));
  }
  const rets = res.map((r) => r.ret);
  const mean = rets.reduce((a, b) => a + b, 0) / rets.length;
  const sd = Math.sqrt(rets.reduce((a, b) => a + (b - mean) ** 2, 0) / rets.length);
  const cleaned = res.filter((r) => r.cleaned).length / res.length;
  const len = res.reduce((a, r) => a + r.length, 0) / res.length;
  const comp = res.reduce((a, r) => a + r.meanCompromised, 0) / res.length;
  containment[name] = { meanReturn: mean, stdReturn: sd, cleanedFraction: cleaned, meanLength: len, meanCompromised: comp, episodes: res.length };
  md.push(`| ${name} | ${f(mean, 2)} ± ${f(sd, 2)} | ${(cleaned * 100).toFixed(0)} % | ${f(len, 1)} | ${f(comp, 2)} |`);
}
const seconds = (performance.now() - t0) / 1000;
md.push("", `Runtime ${seconds.toFixed(1)} s.`, "");
writeResult("iot-baselines", { K, alpha: ALPHA, evalSeeds: EVAL_SEEDS, fitSeeds: FIT_SEEDS, intrusion, containment, seconds });
writeText("iot-baselines.md", md.join("\n"));
console.log(md.join("\n"));
