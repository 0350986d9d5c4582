/**
 * Load test of `fedrl serve` → bench/results/serve.json (+ serve.md):
 *
 *   npm run bench:serve [-- --checkpoint DIR] [--seconds 8] [--open-seconds 10] [--open-runs 3] [--rate 1000] [--concurrency 8] [--no-wrk]
 *
 * The server is `fedrl serve` in its own process on a loopback port, serving an IoTIntrusion-v0 DQN
 * checkpoint (default: a short train-local with configs/iot-intrusion-hybrid.yaml's agent, 128×128;
 * --checkpoint to serve another). This process drives it over keep-alive connections (node:http
 * Agent) with POST /predict bodies of real observations (IoTIntrusion-v0 episodes on seeds apart
 * from training's):
 * - closed loop, batch 1 and batch 64, 1 connection (latency) and --concurrency connections
 *   (throughput): each connection sends its next request when the previous answer arrives;
 * - open loop, batch 1 at --rate requests/s, --open-runs times: request i is due at t0 + i/rate
 *   whatever the answers do, and its latency counts from when it was due (no coordinated omission: a
 *   stall shows up in p99); the driver's own timer lag and event-loop delay are recorded beside it,
 *   since on a shared machine the driver stalls too.
 * Latency is client-side (request written → answer read), so it includes this driver's own event
 * loop; the server's own histogram (GET /metrics) is reported beside it for the open-loop phase.
 * When `wrk` is on the PATH (apt-get install wrk) it repeats the closed-loop throughput runs as a
 * driver written in C. The goal: p99 < 5 ms at batch 1 under 1,000 req/s.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent, request } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { make } from "../envs/index";
import { Random } from "../core/random";
import { percentile, writeResult, writeText } from "./util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "bin", "fedrl.mjs");
const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
if (argv.includes("--help")) {
  console.log("usage: npm run bench:serve [-- --checkpoint DIR] [--seconds S] [--open-seconds S] [--open-runs N] [--rate R] [--concurrency C] [--no-wrk]");
  process.exit(0);
}
const SECONDS = Number(flag("--seconds") ?? 8);
const OPEN_SECONDS = Number(flag("--open-seconds") ?? 10);
const OPEN_RUNS = Number(flag("--open-runs") ?? 3);
const RATE = Number(flag("--rate") ?? 1000);
const CONC = Number(flag("--concurrency") ?? 8);
const WARM_SECONDS = 2;
const useWrk = !argv.includes("--no-wrk") && spawnSync("wrk", ["--version"], { encoding: "utf8" }).error === undefined;
const round = (x: number, d = 3) => Number(x.toFixed(d));
const log = (l: string) => process.stderr.write(`${l}\n`);

function checkpoint(): { dir: string; how: string } {
  const given = flag("--checkpoint");
  if (given) return { dir: given, how: `given: ${given}` };
  const dir = join(mkdtempSync(join(tmpdir(), "fedrl-bench-serve-")), "run");
  const args = ["train-local", "--config", join(ROOT, "configs/iot-intrusion-hybrid.yaml"), "--steps", "5000", "--run-dir", dir];
  log(`bench:serve: training a checkpoint: fedrl ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, NATS_URL: "", REDIS_URL: "" } });
  if (r.status !== 0) throw new Error(`train-local failed: ${r.stderr}`);
  return { dir, how: "fedrl train-local --config configs/iot-intrusion-hybrid.yaml --steps 5000 (local recipe, one actor, 128×128 DQN)" };
}

async function startServer(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, "serve", "--checkpoint", dir, "--port", "0"], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NATS_URL: "", REDIS_URL: "" } });
  let err = "";
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  for (let i = 0; i < 300; i++) {
    const m = /listening on (http:\/\/[^/\s]+\/)/.exec(err);
    if (m) return { child, url: m[1]! };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGINT");
  throw new Error(`fedrl serve did not start: ${err}`);
}

/** Observations of IoTIntrusion-v0 episodes (random actions) on seeds far from any training seed. */
function observations(n: number): number[][] {
  const env = make("IoTIntrusion-v0");
  const rng = new Random(99);
  const out: number[][] = [];
  for (let ep = 0; out.length < n; ep++) {
    let { obs } = env.reset({ seed: 3_000_000_000 + ep });
    for (;;) {
      out.push(Array.from(obs));
      const r = env.step(rng.int(env.actionCount));
      obs = r.obs;
      if (r.terminated || r.truncated || out.length >= n) break;
    }
  }
  return out;
}

const agent = new HttpAgent({ keepAlive: true, maxSockets: 256 });

function post(url: URL, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: "/predict", method: "POST", agent, headers: { "content-type": "application/json", "content-length": String(body.length) } }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve(res.statusCode!));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

interface Quantiles { p50: number; p90?: number; p99: number; max: number }
interface Phase { name: string; batch: number; connections?: number; rate?: number; seconds: number; requests: number; errors: number; rps: number; rowsPerSec: number; p50: number; p90: number; p99: number; max: number; fromSend?: Quantiles; sendLag?: Quantiles; driverLoopDelay?: Quantiles; server?: Record<string, number>; loadavg1?: number; serverCpuShare?: number }

/** The largest value, without spreading (100k+ samples overflow the call stack). */
const maxOf = (xs: number[]) => xs.reduce((m, x) => (x > m ? x : m), -Infinity);

function summary(name: string, batch: number, lat: number[], errors: number, seconds: number, extra: Partial<Phase>): Phase {
  const rps = lat.length / seconds;
  return { name, batch, ...extra, seconds: round(seconds, 2), requests: lat.length, errors, rps: round(rps, 1), rowsPerSec: round(rps * batch, 0), p50: round(percentile(lat, 50)), p90: round(percentile(lat, 90)), p99: round(percentile(lat, 99)), max: round(lat.reduce((m, x) => (x > m ? x : m), -Infinity)) };
}

/** `connections` loops, each posting its next body when the last answer is in, for `seconds`; latencies in ms. */
async function closedLoop(url: URL, bodies: Buffer[], connections: number, seconds: number): Promise<{ lat: number[]; errors: number; elapsed: number }> {
  const lat: number[] = [];
  let errors = 0, k = 0;
  const t0 = performance.now(), end = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      const status = await post(url, bodies[k++ % bodies.length]!).catch(() => 0);
      if (status === 200) lat.push(performance.now() - s); else errors++;
    }
  }));
  return { lat, errors, elapsed: (performance.now() - t0) / 1000 };
}

/**
 * Request i is due at t0 + i/rate and is sent at the first timer tick at or after that (Node timers:
 * ~1 ms), whatever the earlier answers do. Latencies both from the due time (`fromDue`: includes this
 * driver's timer lag, no coordinated omission) and from the send (`fromSend`: the round trip alone).
 */
async function openLoop(url: URL, bodies: Buffer[], rate: number, seconds: number): Promise<{ fromDue: number[]; fromSend: number[]; sendLag: number[]; errors: number; elapsed: number }> {
  const total = Math.round(rate * seconds);
  const fromDue: number[] = [], fromSend: number[] = [], sendLag: number[] = [];
  let errors = 0, sent = 0;
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const due = (i: number) => t0 + (i * 1000) / rate;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && due(sent) <= now) {
        const d = due(sent), s = performance.now();
        sendLag.push(s - d);
        pending.push(post(url, bodies[sent % bodies.length]!).then((status) => {
          const t = performance.now();
          if (status === 200) { fromDue.push(t - d); fromSend.push(t - s); } else errors++;
        }, () => { errors++; }));
        sent++;
      }
      if (sent >= total) resolve();
      else setTimeout(tick, Math.max(0, due(sent) - performance.now()));
    };
    tick();
  });
  await Promise.all(pending);
  return { fromDue, fromSend, sendLag, errors, elapsed: (performance.now() - t0) / 1000 };
}

/** CPU seconds (user + system) a process has used, from /proc (null where there is no /proc). */
function cpuSeconds(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return null;
  }
}

/** The server's latency histogram for /predict (cumulative bucket counts by upper bound, seconds). */
async function serverHistogram(url: URL): Promise<Map<number, number>> {
  const text = await fetch(new URL("metrics", url)).then((r) => r.text());
  const m = new Map<number, number>();
  for (const line of text.split("\n")) {
    const b = /^fedrl_serve_request_seconds_bucket\{le="([^"]+)",route="predict"\} (\d+)/.exec(line);
    if (b) m.set(b[1] === "+Inf" ? Infinity : Number(b[1]), Number(b[2]));
  }
  return m;
}

/** Smallest bucket bound holding ≥ p of the requests between two snapshots (ms). */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, p: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const le of bounds) if ((after.get(le)! - (before.get(le) ?? 0)) >= p * total) return le * 1000;
  return Infinity;
}

function wrkRun(url: URL, body: string, connections: number, seconds: number): { rps: number; p50: number; p99: number } | null {
  const script = join(mkdtempSync(join(tmpdir(), "fedrl-wrk-")), "post.lua");
  writeFileSync(script, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
  const r = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, new URL("predict", url).href], { encoding: "utf8" });
  if (r.status !== 0) return null;
  const ms = (s: string) => (s.endsWith("us") ? Number(s.slice(0, -2)) / 1000 : s.endsWith("ms") ? Number(s.slice(0, -2)) : s.endsWith("s") ? Number(s.slice(0, -1)) * 1000 : NaN);
  const q = (p: string) => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(r.stdout)?.[1] ?? "");
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  if (/Non-2xx/.test(r.stdout)) return null;
  return { rps: round(rps, 1), p50: round(q("50")), p99: round(q("99")) };
}

async function main(): Promise<void> {
  const ck = checkpoint();
  const { child, url: base } = await startServer(ck.dir);
  const url = new URL(base);
  log(`bench:serve: fedrl serve on ${base} (pid ${child.pid}); driving it from pid ${process.pid}`);
  const obs = observations(4096);
  const bodiesOf = (batch: number) => Array.from({ length: 64 }, (_, k) => Buffer.from(JSON.stringify({ observations: Array.from({ length: batch }, (_, r) => obs[(k * batch + r) % obs.length]!) })));
  const phases: Phase[] = [];
  const wrk: Record<string, unknown>[] = [];
  try {
    for (const batch of [1, 64]) {
      const bodies = bodiesOf(batch);
      await closedLoop(url, bodies, CONC, WARM_SECONDS);
      for (const c of [1, CONC]) {
        const r = await closedLoop(url, bodies, c, SECONDS);
        const p = summary(`closed loop, batch ${batch}, ${c} connection${c > 1 ? "s" : ""}`, batch, r.lat, r.errors, r.elapsed, { connections: c });
        phases.push(p);
        log(`  ${p.name}: ${p.rps} req/s (${p.rowsPerSec} rows/s), p50 ${p.p50} ms, p99 ${p.p99} ms, errors ${p.errors}`);
      }
      if (useWrk) {
        const w = wrkRun(url, bodies[0]!.toString(), CONC, SECONDS);
        if (w) {
          wrk.push({ batch, connections: CONC, seconds: SECONDS, ...w });
          log(`  wrk, batch ${batch}, ${CONC} connections: ${w.rps} req/s, p50 ${w.p50} ms, p99 ${w.p99} ms`);
        }
      }
    }
    const bodies = bodiesOf(1);
    await openLoop(url, bodies, RATE, WARM_SECONDS);
    for (let k = 1; k <= OPEN_RUNS; k++) {
      const before = await serverHistogram(url);
      const cpu0 = cpuSeconds(child.pid!);
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const o = await openLoop(url, bodies, RATE, OPEN_SECONDS);
      loop.disable();
      const cpu1 = cpuSeconds(child.pid!);
      const after = await serverHistogram(url);
      const open = summary(`open loop, batch 1, ${RATE} req/s (run ${k} of ${OPEN_RUNS})`, 1, o.fromDue, o.errors, o.elapsed, {
        rate: RATE,
        fromSend: { p50: round(percentile(o.fromSend, 50)), p90: round(percentile(o.fromSend, 90)), p99: round(percentile(o.fromSend, 99)), max: round(maxOf(o.fromSend)) },
        sendLag: { p50: round(percentile(o.sendLag, 50)), p99: round(percentile(o.sendLag, 99)), max: round(maxOf(o.sendLag)) },
        driverLoopDelay: { p50: round(loop.percentile(50) / 1e6), p99: round(loop.percentile(99) / 1e6), max: round(loop.max / 1e6) },
        server: { p50AtMostMs: bucketQuantile(before, after, 0.5), p99AtMostMs: bucketQuantile(before, after, 0.99) },
        loadavg1: round(loadavg()[0]!, 2),
        ...(cpu0 !== null && cpu1 !== null ? { serverCpuShare: round((cpu1 - cpu0) / o.elapsed, 3) } : {}),
      });
      phases.push(open);
      log(`  ${open.name}: ${open.rps} req/s achieved; from due time p50 ${open.p50} ms, p99 ${open.p99} ms, max ${open.max} ms; from send p50 ${open.fromSend!.p50} ms, p99 ${open.fromSend!.p99} ms; send lag p99 ${open.sendLag!.p99} ms; driver event-loop delay p99 ${open.driverLoopDelay!.p99} ms; server histogram p99 ≤ ${open.server!.p99AtMostMs} ms; server CPU ${open.serverCpuShare ?? "?"} of a core; errors ${open.errors}; load ${open.loadavg1}`);
    }
  } finally {
    child.kill("SIGINT");
    await new Promise((r) => child.once("exit", r));
    agent.destroy();
  }
  const opens = phases.filter((p) => p.rate !== undefined);
  const p99s = opens.map((p) => p.p99).sort((a, b) => a - b);
  const medianP99 = p99s[p99s.length >> 1]!;
  const goal = { what: "p99 < 5 ms at batch 1 under an open-loop 1,000 req/s (latency from each request's due time)", p99PerRun: opens.map((p) => p.p99), runsMet: opens.filter((p) => p.rate === 1000 && p.p99 < 5 && p.errors === 0).length, runs: opens.length, medianP99 };
  const load = loadavg().map((l) => round(l, 2));
  const command = `npm run bench:serve -- ${argv.join(" ")}`.trim();
  const path = writeResult("serve", { command, checkpoint: ck.how, server: "fedrl serve (its own process, loopback, keep-alive)", driver: "node:http keep-alive Agent in a separate process; latency = request written → answer read", loadavgAfter: load, phases, wrk, goal });
  const rows = phases.map((p) => `| ${p.name} | ${p.requests} | ${p.rps} | ${p.rowsPerSec} | ${p.p50} | ${p.p90} | ${p.p99} | ${p.max} | ${p.errors} |`);
  const md = [
    "# fedrl serve: POST /predict latency and throughput",
    "",
    `\`${command}\` — server: \`fedrl serve\` in its own process on loopback; driver: this bench, node:http keep-alive, a separate process. Checkpoint: ${ck.how}. Bodies: IoTIntrusion-v0 observations (38 floats per row). Load average after the run: ${load.join(", ")} (2 cores shared with other work).`,
    "",
    "| phase | requests | req/s | rows/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `Open loop (${OPEN_RUNS} runs of ${OPEN_SECONDS} s): the table's latency counts from each request's due time (no coordinated omission), so it includes this driver's own stalls. Per run — from the send: ${opens.map((p) => `p50 ${p.fromSend!.p50} / p99 ${p.fromSend!.p99} ms`).join("; ")}; the driver's timer lag (due → sent) p99: ${opens.map((p) => `${p.sendLag!.p99} ms`).join(", ")}; the driver's event-loop delay p99: ${opens.map((p) => `${p.driverLoopDelay!.p99} ms`).join(", ")}; the server's own histogram (request in → answer written) p99 ≤ ${opens.map((p) => `${p.server!.p99AtMostMs} ms`).join(", ")} (bucket bounds); the server's CPU: ${opens.map((p) => p.serverCpuShare ?? "?").join(", ")} of a core; 1-min load average ${opens.map((p) => p.loadavg1).join(", ")}.`,
    ...(wrk.length ? ["", `wrk (C driver, 1 thread, ${CONC} connections, closed loop): ${wrk.map((w) => `batch ${w.batch}: ${w.rps} req/s, p50 ${w.p50} ms, p99 ${w.p99} ms`).join("; ")}.`] : []),
    "",
    `Goal ${goal.what}: p99 per run ${goal.p99PerRun.join(", ")} ms — met in ${goal.runsMet} of ${goal.runs} runs (median p99 ${goal.medianP99} ms).`,
    "",
  ].join("\n");
  writeText("serve.md", md);
  log(`bench:serve: ${path}, bench/results/serve.md`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
