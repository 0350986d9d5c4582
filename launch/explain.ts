/**
 * `fedrl explain --checkpoint DIR [--env IoTIntrusion-v0] [--flows N] [--out DIR]`: why a trained
 * IoT intrusion policy decides as it does, on flows it never trained on.
 *
 * 1. The greedy policy runs IoTIntrusion-v0 episodes on the run's held-out set (launch/detection.ts
 *    heldOutSet, as `fedrl eval` uses: every site, env seeds no actor trained on and whose random
 *    streams stay off the training streams, the split training did not draw from for CSV sources)
 *    and records N decisions: the observation, the chosen action, and the acted-on flow's truth from
 *    the step info (label, attack family, device type).
 * 2. Integrated gradients of the chosen action's score (Q-value) per decision (launch/attribution.ts),
 *    against a baseline observation:
 *    - "benign-mean" (default): the mean observation of the benign flows among the N. Attributions
 *      then answer "which fields move this decision's score away from what it is for normal traffic
 *      at this site", the question an analyst asks. Its device-type block is fractional (a blend of the
 *      site's devices), which is fine for a reference point: IG needs a point where the fields carry
 *      no evidence, not an observation the env can emit;
 *    - "zeros": every scaled field at its minimum. It is the textbook choice, but here it is a flow
 *      of 0 ms with 0 packets from no device type, which the env never produces and the policy scores
 *      arbitrarily, so attributions explain the distance from an impossible flow.
 *    Trapezoid steps double until completeness (Σ IG = score(x) − score(baseline)) holds within 0.2 %;
 *    the error reached is in the report.
 * 3. Permutation importance per field: the share of decisions that change when that field is shuffled
 *    across the N flows, and the detection F1 lost (flagged = any action but allow).
 * 4. Global importance: mean |IG| per field over all decisions and per attack family.
 * Read 2 and 3 together: IG of Q(x, a) also credits fields that raise or lower every action's value
 * alike (the state's value, e.g. the gateway's load) without changing which action wins, while
 * permutation importance counts only changed decisions.
 * Writes <out>/explain.json (documented in its "doc" field), <out>/importance.svg and .png.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Agent } from "../core/agent";
import { make } from "../envs/index";
import { ACTIONS, ALLOW, INTRUSION_OBS_FIELDS } from "../envs/iot/intrusion";
import { blockScore } from "../envs/iot/detection";
import { binaryMetrics } from "../envs/iot/metrics";
import { argmaxRows, integratedGradients, meanAbsByGroup, permutationImportance, scoreModelOf, type IgResult, type ScoreModel } from "./attribution";
import { loadAgent, resolveCheckpoint, runConfigOf } from "./checkpoints";
import { loadExperiment, parseExperiment, type Experiment } from "./config";
import { UsageError, UserError } from "./errors";
import { svgToPng } from "./plot";
import { checkEnvOptions } from "./preflight";
import { closeSites, DETECTION_ENV, detectionSites, episodeFlows, heldOutSet, type HeldOutDescription } from "./detection";

/** The env explanations speak of (its observation fields, actions and attack families). */
export const EXPLAIN_ENV = DETECTION_ENV;
export type BaselineKind = "benign-mean" | "zeros";
export const BASELINES: readonly BaselineKind[] = ["benign-mean", "zeros"];

/** A loaded policy ready to score and explain: its checkpoint, its run's experiment, the agent as a ScoreModel. */
export interface Policy {
  dir: string;
  exp: Experiment;
  agent: Agent;
  model: ScoreModel;
  /** observation field names (the env's, or f0, f1, … for envs without named fields) */
  fields: string[];
  actionNames: string[];
}

/** Loads a checkpoint (or a run folder's) with its run's config (else --config / defaults), the env possibly overridden. */
export async function loadPolicy(o: { checkpoint: string; env?: string; config?: string; sets?: string[] }): Promise<Policy> {
  const dir = resolveCheckpoint(o.checkpoint);
  let exp: Experiment = runConfigOf(dir) ?? loadExperiment(o.config, []);
  exp = parseExperiment(exp, o.config ?? "run config", o.sets ?? []);
  if (o.env && o.env !== exp.env.id) exp = { ...exp, env: { ...exp.env, id: o.env, options: {} } };
  checkEnvOptions(exp);
  const env = make(exp.env.id, { ...exp.env.options });
  const space = { obsDim: env.observationSize, actionCount: env.actionCount };
  env.close?.();
  const agent: Agent = await loadAgent(dir);
  const dims = agent as Agent & { obsDim?: number; numActions?: number };
  if ((dims.obsDim ?? space.obsDim) !== space.obsDim || (dims.numActions ?? space.actionCount) !== space.actionCount) {
    agent.dispose();
    throw new UserError(`${dir} was trained on ${dims.obsDim} observation values and ${dims.numActions} actions; ${exp.env.id} has ${space.obsDim} and ${space.actionCount}: pass the env it was trained on (--env)`);
  }
  const iot = exp.env.id === EXPLAIN_ENV;
  return {
    dir, exp, agent, model: scoreModelOf(agent, space),
    fields: iot ? [...INTRUSION_OBS_FIELDS] : Array.from({ length: space.obsDim }, (_, i) => `f${i}`),
    actionNames: iot ? [...ACTIONS] : Array.from({ length: space.actionCount }, (_, i) => `action_${i}`),
  };
}

// ---------------------------------------------------------------- held-out flows

/** One recorded decision of the greedy policy. */
export interface Decision {
  obs: Float32Array;
  action: number;
  scores: Float32Array;
  /** truth of the flow acted on (step info) */
  label: number;
  family: string;
  deviceType: string;
  site: number;
  seed: number;
  step: number;
}

/**
 * N greedy decisions on held-out flows: launch/detection.ts heldOutSet (every site of the run, env
 * seeds from `from` upward that no actor trained on and whose random streams stay off the training
 * streams, the split training did not draw from for CSV sources), site k's e-th episode on
 * seeds[e·K + k], episodes taken in that order until N decisions are in.
 */
export function collectDecisions(p: Pick<Policy, "exp" | "model">, n: number, from = p.exp.eval.seed): { decisions: Decision[]; set: HeldOutDescription } {
  const { exp, model } = p;
  const { sites: K } = detectionSites(exp);
  const perSite = Math.ceil(n / (K * episodeFlows(exp)));
  const { sites, description } = heldOutSet(exp, perSite, from);
  const out: Decision[] = [];
  try {
    for (let e = 0; e < perSite && out.length < n; e++) {
      for (const { env, seeds, site } of sites) {
        if (out.length >= n) break;
        let { obs } = env.reset({ seed: seeds[e]! });
        for (let step = 0; out.length < n; step++) {
          const scores = model.scores(obs, 1);
          const action = argmaxRows(scores, 1, model.actionCount)[0]!;
          const r = env.step(action);
          const t = r.info as { label: number; family: string; deviceType: string };
          out.push({ obs, action, scores, label: t.label, family: t.family, deviceType: t.deviceType, site, seed: seeds[e]!, step });
          obs = r.obs;
          if (r.terminated || r.truncated) break;
        }
      }
    }
  } finally {
    closeSites(sites);
  }
  return { decisions: out, set: description };
}

/** The baseline observation of a kind, from the recorded decisions (benign-mean needs benign flows among them). */
export function baselineOf(kind: BaselineKind, decisions: readonly Decision[], D: number): Float32Array {
  const b = new Float32Array(D);
  if (kind === "zeros") return b;
  const benign = decisions.filter((d) => d.label === 0);
  if (!benign.length) throw new UserError("baseline benign-mean: no benign flow among the held-out flows; use --baseline zeros or more --flows");
  const acc = new Float64Array(D);
  for (const d of benign) for (let i = 0; i < D; i++) acc[i] += d.obs[i]!;
  for (let i = 0; i < D; i++) b[i] = acc[i]! / benign.length;
  return b;
}

// ---------------------------------------------------------------- report

export interface FieldImportance {
  field: string;
  /** mean |IG| over the decisions */
  meanAbsIG: number;
  /** mean signed IG (> 0: the field pushes the chosen action's score up from the baseline) */
  meanIG: number;
  agreementDrop: { mean: number; std: number };
  f1Drop: { mean: number; std: number };
}

export interface ExplainReport {
  format: string;
  doc: Record<string, string>;
  checkpoint: string;
  env: string;
  envOptions: Record<string, unknown>;
  flows: number;
  heldOut: { from: number; sites: number; episodes: number; seeds: number[]; split: "train" | "test" | null; source: string };
  fields: string[];
  actions: string[];
  baseline: { kind: BaselineKind; why: string; observation: number[]; scores: number[]; action: string };
  ig: {
    rule: string;
    tolerance: number;
    steps: { min: number; median: number; max: number };
    completeness: { maxRelativeError: number; meanRelativeError: number; within1pct: number; rows: number; tinyDelta: number; maxAbsErrorTinyDelta: number };
  };
  detection: { precision: number; recall: number; f1: number; fpr: number };
  actionCounts: Record<string, number>;
  global: FieldImportance[];
  families: Record<string, { n: number; top: { field: string; meanAbsIG: number }[]; meanAbsIG: number[] }>;
  permutation: { repeats: number; seed: number };
  decisions: { seed: number; step: number; site: number; family: string; label: number; deviceType: string; action: string; scores: number[]; blockScore: number; ig: number[]; igSteps: number; relativeError: number }[];
}

const BASELINE_WHY: Record<BaselineKind, string> = {
  "benign-mean": "mean observation of the benign flows among the held-out flows: attributions say which fields move the chosen action's score away from its value on typical normal traffic of this site (its device-type block is a blend; a reference point need not be an observation the env emits)",
  zeros: "all fields at their scaled minimum: a 0 ms, 0-packet flow of no device type, which the env never produces; attributions measure the distance from that impossible flow",
};

const round = (v: number, d = 6) => (Number.isFinite(v) ? Number(v.toPrecision(d)) : v);
/** |Δ| below this counts as "no score change": completeness is then checked in absolute terms. */
const TINY_DELTA = 1e-3;

export interface ExplainOptions { flows: number; baseline: BaselineKind; repeats: number; seed?: number; tolerance?: number; maxSteps?: number; log?: (line: string) => void }

/** Collects the held-out decisions and computes every attribution of the report. */
export function explainPolicy(p: Policy, o: ExplainOptions): ExplainReport {
  const { exp, model, fields } = p;
  const D = model.obsDim, A = model.actionCount;
  const log = o.log ?? (() => {});
  const from = o.seed ?? exp.eval.seed;
  const t0 = Date.now();
  const { decisions, set } = collectDecisions(p, o.flows, from);
  const N = decisions.length;
  const used = [...new Set(decisions.map((d) => d.seed))];
  log(`explain: ${N} held-out decisions on ${set.sites} site${set.sites > 1 ? "s" : ""}, ${used.length} episodes from seed ${used[0]} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const baseline = baselineOf(o.baseline, decisions, D);
  const bScores = model.scores(baseline, 1);

  const t1 = Date.now();
  const igs: IgResult[] = decisions.map((d) => integratedGradients(model, d.obs, baseline, d.action, { tolerance: o.tolerance, maxSteps: o.maxSteps }));
  log(`explain: integrated gradients in ${((Date.now() - t1) / 1000).toFixed(1)} s`);

  const X = new Float32Array(N * D);
  decisions.forEach((d, r) => X.set(d.obs, r * D));
  const labels = decisions.map((d) => d.label);
  const permSeed = o.seed ?? 0;
  const t2 = Date.now();
  const perm = permutationImportance(model, X, N, { repeats: o.repeats, seed: permSeed, labels, flagged: (a) => a !== ALLOW });
  log(`explain: permutation importance (${o.repeats} shuffles per field) in ${((Date.now() - t2) / 1000).toFixed(1)} s`);

  const global: FieldImportance[] = fields.map((field, i) => {
    let abs = 0, sgn = 0;
    for (const g of igs) { abs += Math.abs(g.attributions[i]!); sgn += g.attributions[i]!; }
    const pf = perm.features[i]!;
    return { field, meanAbsIG: round(abs / N), meanIG: round(sgn / N), agreementDrop: { mean: round(pf.agreementDrop.mean), std: round(pf.agreementDrop.std) }, f1Drop: { mean: round(pf.f1Drop!.mean), std: round(pf.f1Drop!.std) } };
  }).sort((a, b) => b.meanAbsIG - a.meanAbsIG);

  const byFamily = meanAbsByGroup(decisions.map((d, r) => ({ group: d.family, attributions: igs[r]!.attributions })), D);
  const families: ExplainReport["families"] = {};
  for (const [fam, g] of [...byFamily].sort((a, b) => b[1].n - a[1].n)) {
    const arr = Array.from(g.meanAbs, (v) => round(v));
    families[fam] = { n: g.n, meanAbsIG: arr, top: arr.map((v, i) => ({ field: fields[i]!, meanAbsIG: v })).sort((a, b) => b.meanAbsIG - a.meanAbsIG).slice(0, 5) };
  }

  const steps = igs.map((g) => g.steps).sort((a, b) => a - b);
  const big = igs.filter((g) => Math.abs(g.score - g.baselineScore) >= TINY_DELTA);
  const tiny = igs.filter((g) => Math.abs(g.score - g.baselineScore) < TINY_DELTA);
  const m = binaryMetrics(labels, decisions.map((d) => (d.action === ALLOW ? 0 : 1)));
  const actionCounts: Record<string, number> = Object.fromEntries(p.actionNames.map((a) => [a, 0]));
  for (const d of decisions) actionCounts[p.actionNames[d.action]!]!++;

  return {
    format: "fedrl-explain/1",
    doc: {
      decisions: "greedy decisions of the checkpoint's policy on held-out flows; ig[i] is the integrated gradient of the chosen action's score (Q-value) for fields[i] against the baseline; Σ ig = scores[action] − baseline score of that action up to relativeError",
      global: "per field, sorted by meanAbsIG: mean |IG| and mean IG over the decisions; agreementDrop = share of decisions that change when the field is shuffled across the flows (mean ± std over repeats); f1Drop = detection F1 lost (flagged = any action but allow)",
      families: "per attack family of the acted-on flow (step info; 'benign' included): rows n, mean |IG| per field (fields order) and the top 5 fields",
      "ig.completeness": `maxRelativeError and meanRelativeError over the rows whose |score − baseline score| ≥ ${TINY_DELTA}; within1pct counts those within 1 %; the others (tinyDelta) are checked in absolute terms (maxAbsErrorTinyDelta)`,
      blockScore: "max over actions other than allow of the score − the score of allow: > 0 when the policy would act on the flow",
      heldOut: "the run's held-out set (launch/detection.ts heldOutSet): every site, env seeds searched from `from` upward skipping those the actors trained on and those whose random streams meet a training stream; seeds lists the episodes used (site k's e-th episode on the (e·sites + k)-th held-out seed); split: the CSV split evaluated (null: synthetic traffic)",
    },
    checkpoint: p.dir,
    env: exp.env.id,
    envOptions: exp.env.options,
    flows: N,
    heldOut: { from, sites: set.sites, episodes: used.length, seeds: used, split: set.split, source: set.source },
    fields,
    actions: p.actionNames,
    baseline: { kind: o.baseline, why: BASELINE_WHY[o.baseline], observation: Array.from(baseline, (v) => round(v)), scores: Array.from(bScores, (v) => round(v)), action: p.actionNames[argmaxRows(bScores, 1, A)[0]!]! },
    ig: {
      rule: "trapezoid on m equal steps along the straight path, m doubled from 32 (reusing gradients) until |Σ IG − Δ| ≤ tolerance·|Δ| (or 1e-6 absolute), at most maxSteps",
      tolerance: o.tolerance ?? 0.002,
      steps: { min: steps[0]!, median: steps[steps.length >> 1]!, max: steps[steps.length - 1]! },
      completeness: {
        maxRelativeError: round(Math.max(0, ...big.map((g) => g.relativeError))),
        meanRelativeError: round(big.reduce((s, g) => s + g.relativeError, 0) / Math.max(1, big.length)),
        within1pct: big.filter((g) => g.relativeError <= 0.01).length,
        rows: big.length,
        tinyDelta: tiny.length,
        maxAbsErrorTinyDelta: round(Math.max(0, ...tiny.map((g) => g.completenessError))),
      },
    },
    detection: { precision: round(m.precision), recall: round(m.recall), f1: round(m.f1), fpr: round(m.fpr) },
    actionCounts,
    global,
    families,
    permutation: { repeats: o.repeats, seed: permSeed },
    decisions: decisions.map((d, r) => ({
      seed: d.seed, step: d.step, site: d.site, family: d.family, label: d.label, deviceType: d.deviceType, action: p.actionNames[d.action]!,
      scores: Array.from(d.scores, (v) => round(v)), blockScore: round(blockScore(d.scores)), ig: Array.from(igs[r]!.attributions, (v) => round(v)), igSteps: igs[r]!.steps, relativeError: round(igs[r]!.relativeError),
    })),
  };
}

// ---------------------------------------------------------------- chart

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A horizontal bar panel (values ≥ 0, optional ± error bars) as an SVG group at (0, oy). */
function barPanel(title: string, rows: { label: string; value: number; err?: number }[], oy: number, W: number, color: string): { svg: string; height: number } {
  const L = 210, R = 70, T = 34, rowH = 20;
  const H = T + rows.length * rowH + 26;
  const max = Math.max(1e-12, ...rows.map((r) => r.value + (r.err ?? 0)));
  const x = (v: number) => L + ((W - L - R) * Math.max(0, v)) / max;
  let s = `<g transform="translate(0 ${oy})">\n<text x="12" y="20" font-size="14" font-weight="bold">${esc(title)}</text>\n`;
  rows.forEach((r, k) => {
    const y = T + k * rowH;
    s += `<text x="${L - 8}" y="${y + 14}" text-anchor="end">${esc(r.label)}</text>`;
    s += `<rect x="${L}" y="${y + 3}" width="${(x(r.value) - L).toFixed(1)}" height="${rowH - 6}" fill="${color}"/>`;
    if (r.err) s += `<line x1="${x(r.value - r.err).toFixed(1)}" x2="${x(r.value + r.err).toFixed(1)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="black"/>`;
    s += `<text x="${(x(r.value + (r.err ?? 0)) + 4).toFixed(1)}" y="${y + 14}" fill="#333">${r.value.toPrecision(3)}</text>\n`;
  });
  s += `<line x1="${L}" x2="${L}" y1="${T}" y2="${T + rows.length * rowH}" stroke="black"/>\n</g>\n`;
  return { svg: s, height: H };
}

/** A families × fields table of mean |IG| as shaded cells (shade relative to the table's largest value). */
function heatPanel(title: string, rowsIn: { label: string; values: number[] }[], cols: string[], oy: number, W: number): { svg: string; height: number } {
  const L = 150, T = 130, rowH = 22;
  const cw = Math.min(75, (W - L - 130) / Math.max(1, cols.length)); // room on the right for the last rotated label
  const max = Math.max(1e-12, ...rowsIn.flatMap((r) => r.values));
  let s = `<g transform="translate(0 ${oy})">\n<text x="12" y="20" font-size="14" font-weight="bold">${esc(title)}</text>\n`;
  cols.forEach((c, j) => {
    const cx = L + j * cw + cw / 2;
    s += `<text x="${cx.toFixed(1)}" y="${T - 6}" transform="rotate(-40 ${cx.toFixed(1)} ${T - 6})" font-size="11">${esc(c)}</text>\n`;
  });
  rowsIn.forEach((r, k) => {
    const y = T + k * rowH;
    s += `<text x="${L - 8}" y="${y + 15}" text-anchor="end">${esc(r.label)}</text>`;
    r.values.forEach((v, j) => {
      const a = Math.max(0, Math.min(1, v / max));
      const fill = `rgb(${Math.round(255 - 224 * a)},${Math.round(255 - 136 * a)},${Math.round(255 - 75 * a)})`;
      s += `<rect x="${(L + j * cw).toFixed(1)}" y="${y}" width="${(cw - 2).toFixed(1)}" height="${rowH - 2}" fill="${fill}"/><text x="${(L + j * cw + cw / 2).toFixed(1)}" y="${y + 15}" text-anchor="middle" font-size="10" fill="${a > 0.6 ? "white" : "black"}">${v.toPrecision(2)}</text>`;
    });
    s += "\n";
  });
  return { svg: s + "</g>\n", height: T + rowsIn.length * rowH + 20 };
}

/** The report's chart: top fields by mean |IG|, by permutation importance, and mean |IG| per family. */
export function importanceSvg(r: ExplainReport, top = 15): string {
  const W = 900;
  const ig = barPanel(`Top ${top} fields by mean |integrated gradient| (baseline ${r.baseline.kind}, ${r.flows} held-out flows)`, r.global.slice(0, top).map((g) => ({ label: g.field, value: g.meanAbsIG })), 0, W, "#1f77b4");
  const byPerm = [...r.global].sort((a, b) => b.agreementDrop.mean - a.agreementDrop.mean).slice(0, top);
  const perm = barPanel(`Top ${top} fields by permutation importance (share of decisions changed, ± std over ${r.permutation.repeats} shuffles)`, byPerm.map((g) => ({ label: g.field, value: g.agreementDrop.mean, err: g.agreementDrop.std })), ig.height, W, "#d62728");
  const cols = r.global.slice(0, 10).map((g) => g.field);
  const idx = cols.map((c) => r.fields.indexOf(c));
  const heat = heatPanel("Mean |IG| per attack family (rows: family, flows) for the top 10 fields", Object.entries(r.families).map(([f, g]) => ({ label: `${f} (${g.n})`, values: idx.map((i) => g.meanAbsIG[i]!) })), cols, ig.height + perm.height, W);
  const H = ig.height + perm.height + heat.height;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n<rect width="${W}" height="${H}" fill="white"/>\n${ig.svg}${perm.svg}${heat.svg}</svg>\n`;
}

// ---------------------------------------------------------------- command

export interface ExplainFlags { checkpoint?: string; env?: string; flows?: number; out?: string; seed?: number; baseline?: string; repeats?: number; config?: string; sets: string[] }

export async function explainCommand(f: ExplainFlags, usage: string, log: (l: string) => void): Promise<number> {
  if (!f.checkpoint) throw new UsageError("fedrl explain needs --checkpoint DIR (a checkpoint or a run folder)", usage);
  const flows = f.flows ?? 1000;
  if (!Number.isInteger(flows) || flows < 10 || flows > 100_000) throw new UsageError(`--flows: an integer in [10, 100000], got ${f.flows}`, usage);
  const repeats = f.repeats ?? 5;
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100) throw new UsageError(`--repeats: an integer in [1, 100], got ${f.repeats}`, usage);
  if (f.seed !== undefined && (!Number.isInteger(f.seed) || f.seed < 0 || f.seed > 2 ** 32 - 1)) throw new UsageError(`--seed: an integer in [0, 2^32), got ${f.seed}`, usage);
  const baseline = (f.baseline ?? "benign-mean") as BaselineKind;
  if (!BASELINES.includes(baseline)) throw new UsageError(`--baseline: one of ${BASELINES.join(", ")}, got "${f.baseline}"`, usage);
  const p = await loadPolicy({ checkpoint: f.checkpoint, env: f.env, config: f.config, sets: f.sets });
  try {
    if (p.exp.env.id !== EXPLAIN_ENV) throw new UsageError(`fedrl explain: the policy's env is ${p.exp.env.id}; explanations name IoT intrusion fields and attack families, so --env ${EXPLAIN_ENV} (a checkpoint trained on it)`, usage);
    const report = explainPolicy(p, { flows, baseline, repeats, seed: f.seed, log });
    const out = f.out ?? join(p.dir, "explain");
    mkdirSync(out, { recursive: true });
    const json = join(out, "explain.json"), svgPath = join(out, "importance.svg"), pngPath = join(out, "importance.png");
    writeFileSync(json, JSON.stringify(report));
    const svg = importanceSvg(report);
    writeFileSync(svgPath, svg);
    writeFileSync(pngPath, svgToPng(svg));
    const c = report.ig.completeness;
    log(`explain: ${report.flows} flows, F1 ${report.detection.f1.toFixed(3)}; IG steps ${report.ig.steps.min}–${report.ig.steps.max} (median ${report.ig.steps.median}), completeness within 1 % on ${c.within1pct}/${c.rows} (max ${(100 * c.maxRelativeError).toFixed(3)} %; ${c.tinyDelta} with |Δ| < ${TINY_DELTA}, max abs error ${c.maxAbsErrorTinyDelta})`);
    console.log(report.global.slice(0, 8).map((g) => `${g.field.padEnd(26)} mean|IG| ${g.meanAbsIG.toPrecision(3).padStart(9)}   decisions changed when shuffled ${(100 * g.agreementDrop.mean).toFixed(1).padStart(5)} %   F1 lost ${g.f1Drop.mean.toFixed(3)}`).join("\n"));
    console.log([json, svgPath, pngPath].join("\n"));
    return 0;
  } finally {
    p.agent.dispose();
  }
}
