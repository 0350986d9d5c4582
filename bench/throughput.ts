/**
 * End-to-end ingest throughput: simulated actors (publishers replaying recorded LunarLander
 * transitions at full speed, spread over 2 processes) against one real learner process over NATS +
 * Redis, filter on. Per level (1…64 actors): accepted transitions/s, decode+filter cost per
 * transition, NATS bytes per transition, replay sample-64 latency while ingesting, learner
 * updates/s, learner RSS over time, dropped/rejected counts. Plus env steps/s per actor with local
 * learning on. Writes bench/results/throughput.{json,md}.
 *
 *   npm run bench:throughput [-- --levels 1,2,4,8,16,32,64 --seconds 12 --soak 600]
 *   npm run bench:throughput -- --levels "" --workers 0,1,2,4 --soak 600 --soak-workers 2   (#16's scale-out table)
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { sliceBatch } from "../core/batch";
import { NatsBus } from "../transport/bus-nats";
import { encodeTransitions } from "../transport/codec";
import { parseExperiment } from "../launch/config";
import { runEmbedded } from "../launch/embedded";
import { spawnComponent } from "../launch/multiprocess";
import { RedisReplay, replayKeys } from "../transport/replay-redis";
import { subjectsFor } from "../transport/subjects";
import { percentile, recordTransitions, writeResult, writeText, machineInfo } from "./util";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const BATCH = 256;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}
/** The pid of the local server listening for `name` (nats-server, redis-server), if it runs here. */
function serverPid(name: string): number | undefined {
  try {
    const out = execFileSync("pgrep", ["-o", "-x", name], { encoding: "utf8" }).trim();
    return out ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A simulated actor's messages: recorded LunarLander random-policy batches, each sent once under
 * its own (seq, ts) — the replay stores a batch key once (retry dedupe across ingest workers, Redis
 * SET NX with a 15-minute TTL), so a publisher that sent the same message twice would measure
 * acknowledgements, not inserts. `pool` messages are encoded before the clock starts (the encode
 * cost stays out of the measured window); `fresh` encodes each message as it is sent (long soaks,
 * where no pool is big enough), which puts the actors' encode cost on these 2 cores too.
 */
function messagesOf(actor: string, seed: number, pool: number, fresh: boolean): { next(): Uint8Array; wrapped(): boolean } {
  const all = recordTransitions("LunarLander-v3", 8 * BATCH, seed);
  const ts = Date.now();
  const make = (k: number) => encodeTransitions({ actor, env: "LunarLander-v3", seq: k, ts, batch: sliceBatch(all, (k % 8) * BATCH, ((k % 8) + 1) * BATCH) });
  let k = 0;
  if (fresh) return { next: () => make(k++), wrapped: () => false };
  const encoded = Array.from({ length: pool }, (_, i) => make(i));
  return { next: () => encoded[k++ % pool]!, wrapped: () => k > pool };
}

/**
 * Publisher process: sends its actors' messages until told to stop (SIGINT). Each batch is a
 * request the learner acknowledges once it is in the replay; every simulated actor keeps at most
 * WINDOW batches in flight — the backpressure a real actor can use too.
 */
const WINDOW = 4;
async function publisher(run: string, actors: string[], pool: number, fresh: boolean) {
  const bus = await NatsBus.connect({ url: NATS_URL, name: "fedrl-bench-publisher" });
  const subjects = subjectsFor(run);
  const data = actors.map((a, i) => ({ subject: subjects.transitions(a), msgs: messagesOf(a, 1000 + i + actors.length * 31, pool, fresh) }));
  let stop = false;
  process.on("SIGINT", () => (stop = true));
  let messages = 0, bytes = 0, acked = 0, failed = 0;
  process.stdout.write("ready\n");
  await Promise.all(data.flatMap((d) => Array.from({ length: WINDOW }, async () => {
    while (!stop) {
      const f = d.msgs.next();
      messages++;
      bytes += f.length;
      try {
        const r = await bus.request(d.subject, f, { timeoutMs: 10_000 });
        if (r[0] === 1) acked++;
        else failed++;
      } catch {
        failed++;
      }
    }
  })));
  await bus.close();
  const wrapped = data.filter((d) => d.msgs.wrapped()).length;
  process.stdout.write(JSON.stringify({ messages, bytes, transitions: messages * BATCH, acked, failed, wrapped }) + "\n");
}

/** Messages per simulated actor that cover `seconds` at up to 500k transitions/s over all actors. */
const poolFor = (actors: number, seconds: number) => Math.max(64, Math.ceil((seconds + 5) * 500_000 / BATCH / actors));

interface Beat { t: number; received: number; accepted: number; filtered: number; updates: number; rssMB: number; dropped: number; ingestMs: number; receivedBytes: number; rejected: { total: number } }

async function level(actors: number, seconds: number, log: (s: string) => void, workers = 0, fresh = false) {
  const run = `tput${process.pid}x${actors}w${workers}`;
  const env = { ...process.env, NATS_URL, REDIS_URL };
  const sets = [
    `run=${run}`, "mode=hybrid", "env.id=LunarLander-v3", "learner.replay.capacity=300000", "learner.replay.clearOnStart=true",
    "learner.tick={ms: 500}", "learner.updatesPerTick=16", "learner.warmup=1000", "learner.publish={ms: 1000}", "learner.checkpoint={ms: 3600000}",
    `runDir=.tmp/bench-${run}`, `learner.ingest.workers=${workers}`,
  ];
  const lines: string[] = [];
  const learner = spawnComponent(["learner", ...sets.flatMap((s) => ["--set", s])], env, "learner", (l) => void lines.push(l));
  for (let i = 0; i < 300 && !lines.some((l) => l.includes("learner up")); i++) await sleep(100);
  const ingest = Array.from({ length: workers }, (_, i) => spawnComponent(["ingest", "--index", String(i), ...sets.filter((x) => !x.startsWith("learner.replay.clearOnStart")).flatMap((s) => ["--set", s])], env, `ingest-${i}`, (l) => void lines.push(l)));
  for (let i = 0; i < 300 && lines.filter((l) => / up: run/.test(l) && l.includes("ingest-")).length < workers; i++) await sleep(100);
  const bus = await NatsBus.connect({ url: NATS_URL });
  const beats: Beat[] = [];
  bus.subscribe(subjectsFor(run).metrics("learner"), (m) => void beats.push({ t: Date.now(), ...JSON.parse(new TextDecoder().decode(m.data)) }));
  // The workers' heartbeats (decode+filter cost, RSS); accepted/s comes from the replay's own insert cursor.
  const workerBeats = new Map<string, { t: number; received: number; ingestMs: number; rssMB: number; dropped: number; rejected: { total: number } }[]>();
  bus.subscribe(subjectsFor(run).allMetrics, (m) => {
    const who = m.subject.slice(m.subject.lastIndexOf(".") + 1);
    if (!who.startsWith("ingest-")) return;
    const list = workerBeats.get(who) ?? [];
    list.push({ t: Date.now(), ...JSON.parse(new TextDecoder().decode(m.data)) });
    workerBeats.set(who, list);
  });
  const cursorAt: { t: number; inserted: number }[] = [];
  const procs = Math.min(2, actors);
  const ids = Array.from({ length: actors }, (_, i) => `sim-${i}`);
  const pubs: ChildProcess[] = [];
  const ready = new Set<ChildProcess>();
  const pubsReady = (ps: ChildProcess[]) => ps.every((p) => ready.has(p));
  const outs: string[] = [];
  for (let p = 0; p < procs; p++) {
    const mine = ids.filter((_, i) => i % procs === p);
    const c = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--publisher", run, "--ids", mine.join(","), ...(fresh ? ["--fresh"] : ["--pool", String(poolFor(actors, seconds))])], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("ready")) ready.add(c);
    });
    pubs.push(c);
    outs.push("");
    c.on("exit", () => (outs[p] = out));
  }
  // The clock starts once every publisher has its recorded batches ready.
  for (let i = 0; i < 1200; i++) {
    await sleep(50);
    if (pubsReady(pubs)) break;
  }
  // Replay sampling latency while ingesting, from a separate client, and RSS over time.
  const redis = new Redis(REDIS_URL);
  const t0 = Date.now();
  const lat: number[] = [];
  let replay: RedisReplay | null = null;
  let lastCursor = 0;
  // Where the 2 cores go: CPU seconds per component over the steady window (after the first 2 s).
  const who: Record<string, () => number[]> = {
    nats: () => [cpuSeconds(serverPid("nats-server"))], redis: () => [cpuSeconds(serverPid("redis-server"))],
    publishers: () => pubs.map((p) => cpuSeconds(p.pid)), learner: () => [cpuSeconds(learner.pid)], workers: () => ingest.map((w) => cpuSeconds(w.pid)),
    bench: () => [process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6],
  };
  const cpuSnap = () => Object.fromEntries(Object.entries(who).map(([k, f]) => [k, f().reduce((a, b) => a + b, 0)]));
  let cpu0: Record<string, number> | null = null, cpu1: Record<string, number> | null = null, cpuAt0 = 0, cpuAt1 = 0;
  while (Date.now() - t0 < seconds * 1000) {
    if (!cpu0 && Date.now() - t0 >= 2000) { cpu0 = cpuSnap(); cpuAt0 = Date.now(); }
    if (!replay) {
      try { replay = await RedisReplay.open(redis, { run, capacity: 300000, obsDim: 8 }); } catch { await sleep(50); continue; }
    }
    if (Date.now() - lastCursor >= 1000) {
      lastCursor = Date.now();
      cursorAt.push({ t: lastCursor, inserted: Number((await redis.get(replayKeys(run).cursor)) ?? 0) });
    }
    if ((await replay.size()) >= 64) {
      const s0 = performance.now();
      await replay.sample(64);
      lat.push(performance.now() - s0);
    }
    await sleep(20);
  }
  cpu1 = cpuSnap();
  cpuAt1 = Date.now();
  for (const p of pubs) p.kill("SIGINT");
  await Promise.all(pubs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r)))));
  await sleep(2500);
  for (const w of ingest) w.kill("SIGINT");
  await Promise.all(ingest.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once("exit", r)))));
  learner.kill("SIGINT");
  await new Promise((r) => (learner.exitCode !== null ? r(null) : learner.once("exit", r)));
  await bus.close();
  const k = replayKeys(run);
  const seen = await redis.keys(k.seen("*"));
  for (let i = 0; i < seen.length; i += 1000) await redis.del(...seen.slice(i, i + 1000));
  await redis.del(k.data, k.cursor, k.meta);
  redis.disconnect();
  const sent = outs.map((o) => JSON.parse(o.trim().split("\n").pop() || "{}") as { messages?: number; bytes?: number; transitions?: number; wrapped?: number });
  const wrapped = sent.reduce((a, x) => a + (x.wrapped ?? 0), 0);
  if (wrapped > 0) log(`  warning: ${wrapped} simulated actors sent all their ${poolFor(actors, seconds)} distinct messages and repeated them: repeats are acknowledged, not stored (accepted/s is a lower bound)`);
  // Steady state: from the first heartbeat after 2 s to the last one during publishing.
  const during = beats.filter((b) => b.t - t0 >= 2000 && b.t - t0 <= seconds * 1000 + 500);
  const a = during[0], z = during.at(-1);
  const dt = a && z && z.t > a.t ? (z.t - a.t) / 1000 : NaN;
  const last = beats.at(-1);
  // Accepted/s: the replay's insert cursor (every worker's inserts), steady state after the first 2 s.
  const cs = cursorAt.filter((c) => c.t - t0 >= 2000);
  const c0 = cs[0], c1 = cs.at(-1);
  const wLast = [...workerBeats.values()].map((l) => l.at(-1)!).filter(Boolean);
  const wReceived = wLast.reduce((s2, b) => s2 + b.received, 0);
  const inserted = c0 && c1 ? c1.inserted - c0.inserted : 0;
  // µs of CPU per accepted transition, per component, and the cores each used (of 2).
  const cpu = cpu0 && cpu1 ? Object.fromEntries(Object.keys(cpu0).map((k) => [k, { usPerTransition: (1e6 * (cpu1![k]! - cpu0![k]!)) / Math.max(1, inserted), cores: (cpu1![k]! - cpu0![k]!) / ((cpuAt1 - cpuAt0) / 1000) }])) : {};
  const r = {
    actors,
    workers,
    cpu,
    publishers: procs,
    acceptedPerSec: c0 && c1 && c1.t > c0.t ? (c1.inserted - c0.inserted) / ((c1.t - c0.t) / 1000) : NaN,
    acceptedPerSecHeartbeat: a && z ? (z.accepted - a.accepted) / dt : NaN,
    receivedPerSec: a && z ? (z.received - a.received) / dt : NaN,
    updatesPerSec: a && z ? (z.updates - a.updates) / dt : NaN,
    decodeFilterUsPerTransition: workers > 0 ? (1000 * wLast.reduce((s2, b) => s2 + b.ingestMs, 0)) / Math.max(1, wReceived) : last ? (1000 * last.ingestMs) / Math.max(1, last.received) : NaN,
    workerRssMB: [...workerBeats.entries()].map(([w, l]) => [w, l.map((b) => [Math.round((b.t - t0) / 100) / 10, Math.round(b.rssMB)])]),
    natsBytesPerTransition: workers > 0 ? wLast.reduce((s2, b) => s2 + (b as unknown as { receivedBytes: number }).receivedBytes, 0) / Math.max(1, wReceived) : last ? last.receivedBytes / Math.max(1, last.received) : NaN,
    published: { transitions: sent.reduce((s, x) => s + (x.transitions ?? 0), 0), messages: sent.reduce((s, x) => s + (x.messages ?? 0), 0) },
    received: last?.received ?? 0,
    accepted: last?.accepted ?? 0,
    filtered: last?.filtered ?? 0,
    droppedMessages: last?.dropped ?? 0,
    rejected: last?.rejected.total ?? 0,
    sample64Ms: { p50: lat.length ? percentile(lat, 50) : NaN, p99: lat.length ? percentile(lat, 99) : NaN, n: lat.length },
    rssMB: beats.map((b) => [Math.round((b.t - t0) / 100) / 10, Math.round(b.rssMB)]),
  };
  log(`  CPU µs/transition (cores): ${Object.entries(cpu).map(([k, v]) => `${k} ${v.usPerTransition.toFixed(2)} (${v.cores.toFixed(2)})`).join(", ")}`);
  log(`${actors} actors, ${workers} ingest worker(s): accepted ${Math.round(r.acceptedPerSec)}/s, received ${Math.round(r.receivedPerSec)}/s, updates ${r.updatesPerSec.toFixed(1)}/s, ${r.decodeFilterUsPerTransition.toFixed(2)} µs/transition decode+filter, ${r.natsBytesPerTransition.toFixed(1)} B/transition, sample-64 p50 ${r.sample64Ms.p50.toFixed(2)} ms p99 ${r.sample64Ms.p99.toFixed(2)} ms, dropped ${r.droppedMessages} msgs, RSS ${r.rssMB.at(-1)?.[1]} MB`);
  return r;
}

async function actorSpeed(envId: string, steps: number) {
  const exp = parseExperiment({ run: "speed", mode: "local", clock: "steps", env: { id: envId }, actors: { count: 1 }, agent: { learningStarts: 1000 }, budget: { stepsPerActor: steps }, eval: { episodes: 0 } });
  const s = await runEmbedded(exp, { writeMetrics: false, chunk: 50 });
  return { env: envId, steps, stepsPerSec: steps / s.wallSeconds, updates: s.actors[0]!.updates };
}

async function main() {
  const { values } = parseArgs({ options: {
    levels: { type: "string", default: "1,2,4,8,16,32,64" }, seconds: { type: "string", default: "12" }, soak: { type: "string", default: "0" },
    workers: { type: "string", default: "" }, "workers-actors": { type: "string", default: "64" }, "soak-workers": { type: "string", default: "0" },
    publisher: { type: "string" }, ids: { type: "string" }, pool: { type: "string", default: "320" }, fresh: { type: "boolean", default: false }, tag: { type: "string" },
  } });
  if (values.publisher) return publisher(values.publisher, values.ids!.split(","), Number(values.pool), values.fresh!);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const levels = values.levels ? values.levels.split(",").map(Number) : [];
  const results = [];
  for (const n of levels) results.push(await level(n, Number(values.seconds), log));
  // Scale-out: the same load against 0 (the learner ingests), 1, 2, 4 … ingest workers.
  const scaling = [];
  for (const w of values.workers ? values.workers.split(",").map(Number) : []) scaling.push(await level(Number(values["workers-actors"]), Number(values.seconds), log, w));
  const soakWorkers = Number(values["soak-workers"]);
  // The soak encodes as it sends (no pool lasts 10 minutes): it measures memory over time, not the peak rate.
  const soak = Number(values.soak) > 0 ? await level(64, Number(values.soak), log, soakWorkers, true) : null;
  const speeds = [await actorSpeed("CartPole-v1", 20000), await actorSpeed("LunarLander-v3", 20000)];
  for (const s of speeds) log(`actor with local learning: ${s.env} ${Math.round(s.stepsPerSec)} env steps/s`);
  const all = [...results, ...scaling];
  const best = Math.max(...all.map((r) => r.acceptedPerSec), soak?.acceptedPerSec ?? -Infinity);
  const fmt = (r: (typeof all)[number]) => `| ${r.actors} | ${r.workers} | ${Math.round(r.acceptedPerSec).toLocaleString("en")} | ${r.decodeFilterUsPerTransition.toFixed(2)} | ${r.natsBytesPerTransition.toFixed(1)} | ${r.sample64Ms.p50.toFixed(2)} / ${r.sample64Ms.p99.toFixed(2)} | ${r.updatesPerSec.toFixed(1)} | ${r.rssMB.length ? `${Math.min(...r.rssMB.map((x) => x[1]!))}–${Math.max(...r.rssMB.map((x) => x[1]!))}` : "–"} | ${r.workerRssMB.map(([, l]) => { const v = (l as number[][]).map((x) => x[1]!); return v.length ? `${Math.min(...v)}–${Math.max(...v)}` : "–"; }).join(", ") || "–"} | ${r.droppedMessages} | ${r.rejected} |`;
  const head = "| actors | ingest workers | accepted/s | decode+filter µs/transition | NATS B/transition | sample-64 p50 / p99 ms | learner updates/s | learner RSS MB | workers' RSS MB | dropped msgs | rejected |\n|---|---|---|---|---|---|---|---|---|---|---|";
  const soakRss = (xs: number[][]) => xs.map((x) => x[1]).join(", ");
  const parts = ["nats", "redis", "publishers", "learner", "workers", "bench"];
  const cpuHead = `| actors | ingest workers | ${parts.join(" | ")} | total µs | cores used |\n|---|---|${parts.map(() => "---|").join("")}---|---|`;
  const cpuRow = (r: (typeof all)[number]) => {
    const c = r.cpu as Record<string, { usPerTransition: number; cores: number }>;
    const tot = parts.reduce((a, k) => a + (Number.isFinite(c[k]?.usPerTransition) ? c[k]!.usPerTransition : 0), 0);
    const cores = parts.reduce((a, k) => a + (Number.isFinite(c[k]?.cores) ? c[k]!.cores : 0), 0);
    return `| ${r.actors} | ${r.workers} | ${parts.map((k) => (c[k] ? `${c[k]!.usPerTransition.toFixed(2)} (${c[k]!.cores.toFixed(2)})` : "–")).join(" | ")} | ${tot.toFixed(2)} | ${cores.toFixed(2)} |`;
  };
  const cpuTable = (rs: typeof all) => `CPU per accepted transition by process, µs (cores used of 2), from /proc over the same window:\n\n${cpuHead}\n${rs.map(cpuRow).join("\n")}\n\n`;
  const md = `# Throughput: simulated actors → learner (and ingest workers) over NATS + Redis (filter on)

Each cell runs ${values.seconds} s; accepted/s is the Redis replay's insert cursor over the steady state (after the first 2 s), i.e. every worker's inserts. Simulated actors send recorded LunarLander-v3 transitions in batches of ${BATCH} from ≤ 2 publisher processes, each actor with ${WINDOW} acknowledged batches in flight, every message under its own (seq, ts) (encoded before the clock starts; the soak encodes as it sends). 0 ingest workers = the learner process ingests itself. Goal (#16): ≥ 300,000 accepted/s with 2 workers on this 2-core machine (shared by NATS, Redis, the publishers, the learner and the workers). Best measured: **${Math.round(best).toLocaleString("en")}/s**.

${results.length ? `## Actors (learner ingests)\n\n${head}\n${results.map(fmt).join("\n")}\n\n${cpuTable(results)}` : ""}${scaling.length ? `## Ingest workers, ${values["workers-actors"]} actors\n\n${head}\n${scaling.map(fmt).join("\n")}\n\n${cpuTable(scaling)}` : ""}${soak ? `## Soak: 64 actors, ${soakWorkers} ingest worker(s), ${values.soak} s, publishers encoding as they send\n\nAccepted ${Math.round(soak.acceptedPerSec).toLocaleString("en")}/s. Learner RSS (MB, every 2 s): ${soakRss(soak.rssMB)}.\n\n${soak.workerRssMB.map(([w, l]) => `${w} RSS (MB, every 2 s): ${soakRss(l as number[][])}.`).join("\n\n")}\n\n` : ""}Actor env steps/s with local learning on (one actor, DQN update every 4 steps): ${speeds.map((s) => `${s.env} ${Math.round(s.stepsPerSec).toLocaleString("en")}`).join(", ")}.

Anchors: RLlib Ape-X 5.1k samples/s on 32 workers; the Ape-X paper ~53k frames/s over 360 actors.

Machine: ${JSON.stringify(machineInfo())}
`;
  const name = values.tag ? `throughput-${values.tag}` : "throughput";
  writeText(`${name}.md`, md);
  const path = writeResult(name, { batch: BATCH, window: WINDOW, seconds: Number(values.seconds), levels: results, scaling, soak, actorSpeeds: speeds, bestAcceptedPerSec: best, goal: { acceptedPerSec: 300000, met: best >= 300000 } });
  log(md);
  log(`wrote ${path}`);
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
