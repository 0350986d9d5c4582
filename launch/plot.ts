/**
 * Line charts as SVG (and PNG through resvg): `fedrl plot <run-dir>` and the benchmarks draw with
 * the same `svgChart`. A run's curves: per-actor mean-100 return, the global greedy eval, learner
 * loss, filter accept rate, trust weights per round and (IoT runs) held-out detection per round,
 * read from its JSONL metrics.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import { UserError } from "./errors";

export interface Series {
  name: string;
  points: [number, number][];
  /** A shaded band [x, lo, hi] (e.g. ± std over seeds). */
  band?: [number, number, number][];
  dashed?: boolean;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Horizontal reference lines (a threshold, a final eval). */
  hlines?: { y: number; label: string }[];
  width?: number;
  height?: number;
}

export const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
/** A tick label with as many decimals as the tick step needs (0.3346 vs 0.3352 stay apart). */
const tickFor = (step: number) => (v: number) => {
  const d = step > 0 && Number.isFinite(step) ? Math.min(6, Math.max(0, 1 - Math.floor(Math.log10(step)))) : 1;
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(Math.abs(v) >= 10 ? Math.min(d, 1) : d);
};

/** One chart as an SVG document (or a group at (ox, oy) when `inner`). */
export function svgChart(c: Chart, inner?: { x: number; y: number }): string {
  const W = c.width ?? 760, H = c.height ?? 420, L = 60, R = 170, T = 36, B = 46;
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = c.series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.band ?? []).flatMap((b) => [b[1], b[2]])]).concat((c.hlines ?? []).map((h) => h.y)).filter(Number.isFinite);
  let x0 = xs.length ? Math.min(...xs) : 0, x1 = xs.length ? Math.max(...xs) : 1;
  if (x1 - x0 < 1e-9) { x0 -= 1; x1 += 1; }
  let lo = ys.length ? Math.min(...ys) : 0, hi = ys.length ? Math.max(...ys) : 1;
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const x = (v: number) => (L + ((W - L - R) * (v - x0)) / Math.max(1e-9, x1 - x0)).toFixed(1);
  const y = (v: number) => (T + ((H - T - B) * (hi - v)) / (hi - lo)).toFixed(1);
  let out = inner ? `<g transform="translate(${inner.x} ${inner.y})">\n` : `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n`;
  out += `<rect width="${W}" height="${H}" fill="white"/>\n<text x="${L}" y="20" font-size="14">${esc(c.title)}</text>\n`;
  out += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>\n`;
  const ty = tickFor((hi - lo) / 5), tx = tickFor((x1 - x0) / 5);
  for (let i = 0; i <= 5; i++) {
    const v = lo + ((hi - lo) * i) / 5, e = x0 + ((x1 - x0) * i) / 5;
    out += `<text x="${L - 6}" y="${Number(y(v)) + 4}" text-anchor="end">${ty(v)}</text><text x="${x(e)}" y="${H - B + 16}" text-anchor="middle">${tx(e)}</text>\n`;
  }
  out += `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">${esc(c.xLabel)}</text><text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">${esc(c.yLabel)}</text>\n`;
  for (const h of c.hlines ?? []) out += `<line x1="${L}" x2="${W - R}" y1="${y(h.y)}" y2="${y(h.y)}" stroke="#888" stroke-dasharray="4 4"/><text x="${W - R - 4}" y="${Number(y(h.y)) - 4}" text-anchor="end" fill="#555">${esc(h.label)}</text>\n`;
  c.series.forEach((s, k) => {
    const col = COLORS[k % COLORS.length];
    if (s.band?.length) out += `<polygon points="${s.band.map((b) => `${x(b[0])},${y(b[2])}`).concat(s.band.slice().reverse().map((b) => `${x(b[0])},${y(b[1])}`)).join(" ")}" fill="${col}" opacity="0.15"/>\n`;
    if (s.points.length) out += `<polyline points="${s.points.map((p) => `${x(p[0])},${y(p[1])}`).join(" ")}" fill="none" stroke="${col}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ""}/>\n`;
    // A series of a few points (one aggregation round) is invisible as a line: mark its points.
    if (s.points.length > 0 && s.points.length <= 3) for (const p of s.points) out += `<circle cx="${x(p[0])}" cy="${y(p[1])}" r="3.5" fill="${col}"/>\n`;
    if (k < 18) out += `<line x1="${W - R + 10}" x2="${W - R + 30}" y1="${T + 16 * k}" y2="${T + 16 * k}" stroke="${col}" stroke-width="2"/><text x="${W - R + 35}" y="${T + 16 * k + 4}">${esc(s.name)}</text>\n`;
  });
  return out + (inner ? "</g>\n" : "</svg>\n");
}

/** Charts stacked in one SVG. */
export function svgFigure(charts: Chart[]): string {
  const W = Math.max(...charts.map((c) => c.width ?? 760));
  const H = charts.reduce((s, c) => s + (c.height ?? 420), 0);
  let out = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n<rect width="${W}" height="${H}" fill="white"/>\n`;
  let oy = 0;
  for (const c of charts) {
    out += svgChart(c, { x: 0, y: oy });
    oy += c.height ?? 420;
  }
  return out + "</svg>\n";
}

export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { background: "white", font: { loadSystemFonts: true, defaultFontFamily: "sans-serif" } }).render().asPng();
}

function readJsonl(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* a line cut by a crash */
    }
  }
  return out;
}

const mean100 = (rets: number[]) => {
  const out: [number, number][] = [];
  let s = 0;
  rets.forEach((r, i) => {
    s += r;
    if (i >= 100) s -= rets[i - 100]!;
    out.push([i + 1, s / Math.min(i + 1, 100)]);
  });
  return out;
};

/** Thins a series to at most n points (every k-th, keeping the last). */
const thin = (p: [number, number][], n = 600) => (p.length <= n ? p : p.filter((_, i) => i % Math.ceil(p.length / n) === 0 || i === p.length - 1));

/** The charts of a run folder. */
export function runCharts(runDir: string): Chart[] {
  if (!existsSync(runDir)) throw new UserError(`fedrl plot: no such run folder ${runDir}`);
  const files = readdirSync(runDir).filter((f) => f.endsWith(".jsonl"));
  const actorFiles = files.filter((f) => f !== "learner.jsonl" && f !== "aggregator.jsonl").sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (!actorFiles.length) throw new UserError(`fedrl plot: ${runDir} holds no actor metrics (*.jsonl); pass a run folder (runs/<run>-<time>)`);
  const charts: Chart[] = [];
  let summary: { eval?: { mean: number; std: number }; mode?: string } | null = null;
  try {
    summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8"));
  } catch { /* a run still going, or stopped hard */ }
  const ret: Series[] = actorFiles.map((f) => ({ name: f.replace(/\.jsonl$/, ""), points: thin(mean100(readJsonl(join(runDir, f)).filter((e) => e.event === "episode").map((e) => Number(e.return)))) }));
  charts.push({
    title: "mean-100 return per actor", xLabel: "episodes", yLabel: "return", series: ret,
    hlines: summary?.eval && Number.isFinite(summary.eval.mean) ? [{ y: summary.eval.mean, label: `greedy eval ${summary.eval.mean.toFixed(1)} ± ${summary.eval.std.toFixed(1)}` }] : [],
  });
  const server = [...readJsonl(join(runDir, "learner.jsonl")), ...readJsonl(join(runDir, "aggregator.jsonl"))];
  const learner = server.filter((e) => e.event === "learner");
  if (learner.length) {
    charts.push({ title: "learner loss", xLabel: "gradient steps", yLabel: "loss", series: [{ name: "loss", points: thin(learner.filter((e) => Number.isFinite(Number(e.loss)) && e.loss !== null).map((e) => [Number(e.updates), Number(e.loss)])) }] });
    charts.push({ title: "diversity filter accept rate", xLabel: "transitions received", yLabel: "accepted / received", series: [{ name: "accept rate", points: thin(learner.map((e) => [Number(e.received), Number((e.filter as { acceptRate?: number } | undefined)?.acceptRate ?? NaN)]).filter((p): p is [number, number] => Number.isFinite(p[1]))) }] });
  }
  const rounds = server.filter((e) => e.event === "aggregation");
  if (rounds.length) {
    const byActor = new Map<string, [number, number][]>();
    for (const r of rounds) for (const c of (r.clients as { actor: string; weight: number }[] | undefined) ?? []) {
      if (!byActor.has(c.actor)) byActor.set(c.actor, []);
      byActor.get(c.actor)!.push([Number(r.round), Number(c.weight) || 0]);
    }
    charts.push({ title: "trust weights per round", xLabel: "round", yLabel: "weight", series: [...byActor].slice(0, 16).map(([name, points]) => ({ name, points })) });
  }
  // IoTIntrusion-v0: the global model on held-out traffic after aggregation rounds (launch/detection.ts).
  const det = server.filter((e) => e.event === "detection");
  if (det.length) {
    const s = (name: string, key: string): Series => ({ name, points: det.map((e) => [Number(e.round), e[key] === null ? NaN : Number(e[key])] as [number, number]).filter((p) => Number.isFinite(p[1])) });
    charts.push({ title: "held-out detection of the global model", xLabel: "aggregation round", yLabel: "value", series: [s("F1", "f1"), s("ROC-AUC", "rocAuc"), s("FPR", "fpr"), s("worst-site F1", "worstSiteF1")] });
  }
  return charts;
}

/** Writes <out>/curves.svg and <out>/curves.png; returns their paths. */
export async function plotRun(runDir: string, out: string): Promise<string[]> {
  const svg = svgFigure(runCharts(runDir));
  mkdirSync(out, { recursive: true });
  const s = join(out, "curves.svg"), p = join(out, "curves.png");
  writeFileSync(s, svg);
  writeFileSync(p, svgToPng(svg));
  return [s, p];
}
