/**
 * Progress of a run: one line of at most 120 columns with the % of the budget, the rate and an ETA.
 * On a TTY the line is redrawn in place; otherwise a plain line every few seconds.
 */
import type { Experiment } from "./config";

export const MAX_COLUMNS = 120;

/** Said once at the start: which clock drives the timers, and what that means for reproducibility. */
export function clockNotice(exp: Experiment): string {
  return exp.clock === "steps"
    ? "step clock: timers fire on env steps, so runs with the same seed are identical"
    : "wall clock: runs with the same seed differ; use --set clock=steps to reproduce";
}

const k = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(0)}k` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : String(Math.round(x)));
export const fmt = (x: number | null | undefined, d = 1) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "–");

export function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "–";
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Fraction of the budget spent (steps, episodes or seconds, whichever is furthest), or null when unbounded. */
export function budgetFraction(exp: Experiment, stepsPerActor: number, episodesPerActor: number, secs: number): number | null {
  const b = exp.budget;
  const f: number[] = [];
  if (b.stepsPerActor > 0) f.push(stepsPerActor / b.stepsPerActor);
  if (b.episodesPerActor > 0) f.push(episodesPerActor / b.episodesPerActor);
  if (b.seconds > 0) f.push(secs / b.seconds);
  return f.length ? Math.min(1, Math.max(...f)) : null;
}

export interface ProgressState {
  secs: number;
  /** Steps and episodes per actor (min over actors), now and when this process started (a resumed run). */
  stepsPerActor: number;
  episodesPerActor: number;
  startSteps?: number;
  startEpisodes?: number;
  /** Env steps of all actors in this process (the rate). */
  totalSteps: number;
  /** Mean over actors of their mean-100 return. */
  mean100: number;
  tail?: string;
}

/** "[ 42% 25.2k/60k steps · 1.2k/s · ETA 3m10s] ep 120 μ100 87.3 | learner v12 …" cut to 120 columns. */
export function progressLine(exp: Experiment, p: ProgressState): string {
  const frac = budgetFraction(exp, p.stepsPerActor, p.episodesPerActor, p.secs);
  const rate = p.totalSteps / Math.max(p.secs, 1e-9);
  const gained = frac === null ? 0 : frac - (budgetFraction(exp, p.startSteps ?? 0, p.startEpisodes ?? 0, 0) ?? 0);
  const eta = frac !== null && gained > 0 ? (p.secs * (1 - frac)) / gained : NaN;
  const pct = frac === null ? "" : `${String(Math.floor(frac * 100)).padStart(3)}% `;
  const budget = exp.budget.stepsPerActor > 0 ? `/${k(exp.budget.stepsPerActor)}` : "";
  const head = `[${pct}${k(p.stepsPerActor)}${budget} steps · ${k(rate)}/s · ${frac === null ? duration(p.secs) : `ETA ${duration(eta)}`}]`;
  const line = `${head} ep ${p.episodesPerActor} μ100 ${fmt(p.mean100)}${p.tail ? ` | ${p.tail}` : ""}`;
  return line.length > MAX_COLUMNS ? `${line.slice(0, MAX_COLUMNS - 1)}…` : line;
}

/** The part of a terminal stream the writer uses (process.stderr, or a fake one in tests). */
export interface TtyLike {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** True when progress should be redrawn in place on `stream`: a TTY, and not under CI. */
export function isInteractive(stream: TtyLike = process.stderr): boolean {
  return !!stream.isTTY && !process.env.CI;
}

/** Cut a line to the terminal's width (at most 120 columns) so redrawing it in place never wraps. */
export function fitColumns(stream: TtyLike, s: string): string {
  const w = Math.min(MAX_COLUMNS, Math.max(20, (stream.columns || MAX_COLUMNS + 1) - 1));
  return s.length > w ? `${s.slice(0, w - 1)}…` : s;
}

export interface ProgressSink {
  log: (line: string) => void;
  progress?: (line: string) => void;
  /** Period of the progress line in ms: 1 s when redrawn in place, 2 s as plain lines. */
  every: number;
  /** Clears the line drawn in place (before the run's closing lines). */
  done(): void;
}

/**
 * The log and progress callbacks of a run. With a TTY stream (default: process.stderr when it is
 * a terminal and CI is unset) and a progress callback given, the progress line is redrawn in place
 * on that stream instead of calling `progress`, and each `log` line first clears it and then
 * redraws it below; `tty: false` always keeps the callbacks. Without a TTY the callbacks are
 * returned unchanged (plain periodic lines).
 */
export function progressSink(log: (line: string) => void, progress: ((line: string) => void) | undefined, tty?: TtyLike | false): ProgressSink {
  const stream = tty === false ? null : tty ?? process.stderr;
  if (!progress || !stream || !isInteractive(stream)) return { log, progress, every: 2000, done() {} };
  let drawn = "";
  return {
    every: 1000,
    progress(s) {
      drawn = fitColumns(stream, s);
      stream.write(`\r\x1b[K${drawn}`);
    },
    log(s) {
      if (drawn) stream.write("\r\x1b[K");
      log(s);
      if (drawn) stream.write(drawn);
    },
    done() {
      if (drawn) stream.write("\r\x1b[K");
      drawn = "";
    },
  };
}

/** Writes progress lines to `stream`: redrawn in place on a TTY (see progressSink), else as they come. */
export function progressWriter(stream: TtyLike = process.stderr): { line(s: string): void; log(s: string): void; done(): void } {
  const plain = (s: string) => void stream.write(`${s}\n`);
  const sink = progressSink(plain, plain, stream);
  return { line: (s) => sink.progress!(s), log: (s) => sink.log(s), done: () => sink.done() };
}
