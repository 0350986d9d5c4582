/**
 * Separate processes over NATS + Redis: `fedrl learner` (the recipe's server side) and
 * `fedrl actor --id X` (one actor). Both assemble their part with the same `assemble()` as the
 * embedded run; only the connections and the wall clock differ.
 */
import type { Attack } from "../federation/byzantine";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { WallClock } from "../core/clock";
import { JsonlMetrics, TeeMetrics } from "../core/metrics";
import { openBus } from "../transport/open";
import { subjectsFor } from "../transport/subjects";
import { assemble, assembleIngestWorker, envSpace as envSpaceOf, runReplay, type Log } from "./assemble";
import { ConfigError, runDirOf, type Experiment } from "./config";
import { budgetSpent } from "./embedded";
import { hasServer, recipeOf } from "./recipes";
import { startHttp, type HttpServer } from "./http";
import { RunMetrics, type ActorStats } from "./prom";

export interface ProcessOptions {
  log: Log;
  signal: AbortSignal;
  /** Run this actor as an adversary (robustness tests). */
  byzantine?: Attack;
}

function requireTransports(exp: Experiment, needRedis: boolean): void {
  if (!exp.transport.nats) throw new ConfigError("this component talks over NATS: set NATS_URL (or transport.nats in the config)");
  if (needRedis && !exp.transport.redis) throw new ConfigError("the hybrid learner keeps its replay in Redis: set REDIS_URL (or transport.redis in the config)");
}

const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));

/** With http.port set: this process's metrics registry and HTTP endpoint (started before anything else, so a port in use fails at once). */
async function openHttp(exp: Experiment, role: string, log: ProcessOptions["log"]): Promise<{ prom: RunMetrics; http: HttpServer } | null> {
  if (exp.http.port === undefined) return null;
  const prom = new RunMetrics({ run: exp.run, role, mode: exp.mode, env: exp.env.id });
  try {
    const http = await startHttp(prom, { port: exp.http.port, host: exp.http.host, log });
    log(`${role}: dashboard ${http.url} · Prometheus ${http.url}metrics`);
    return { prom, http };
  } catch (e) {
    prom.close();
    throw e;
  }
}

/** `fedrl learner`: the global learner and/or aggregation node, until signalled. */
export async function runLearnerProcess(exp: Experiment, o: ProcessOptions): Promise<void> {
  const recipe = recipeOf(exp.mode);
  if (!hasServer(recipe)) throw new ConfigError(`mode ${exp.mode} has no learner process`);
  requireTransports(exp, recipe.learner);
  const runDir = runDirOf(exp);
  const subjects = subjectsFor(exp.run);
  const web = await openHttp(exp, "learner", o.log);
  const clock = new WallClock((n, e) => o.log(`timer ${n} failed: ${(e as Error)?.message ?? e}`));
  const bus = await openBus(exp.transport.nats, `fedrl-${exp.run}-learner`, o.log);
  const replay = runReplay(exp);
  const jsonl = new JsonlMetrics(join(runDir, recipe.learner ? "learner.jsonl" : "aggregator.jsonl"), "learner");
  const metrics = web ? new TeeMetrics([jsonl, web.prom.sink()]) : jsonl;
  const prom = web?.prom;
  const topo = await assemble(exp, {
    bus, clock, log: o.log, metrics: () => metrics,
    replay: prom ? async (space) => prom.instrumentReplay(await replay.open(space)) : replay.open,
  }, { actors: [], server: true, checkpoints: true, workersIngest: exp.learner.ingest.workers > 0 });
  const server = topo.server!;
  if (prom) {
    prom.attach({ actors: [], server, bus });
    // The actors' heartbeats: the learner's page shows the whole run.
    bus.subscribe(subjects.allMetrics, (m) => {
      if (m.subject.endsWith(".learner")) return;
      try {
        prom.remoteActor(JSON.parse(new TextDecoder().decode(m.data)) as ActorStats);
      } catch {
        /* a malformed heartbeat is only a missing row */
      }
    });
  }
  await server.start();
  const store = replay.opened();
  const replayNote = store ? `, replay ${store.kind} (${await store.size()} transitions)` : "";
  o.log(`${recipe.learner ? "learner" : "aggregator"} up: run ${exp.run}, mode ${exp.mode}${replayNote}, version ${server.global.version}`);
  const status = async () => (server.learner ? await server.learner.stats() : { round: server.global.round, version: server.global.version, rejected: server.rejected.snapshot() });
  const heartbeat = setInterval(() => {
    void status().then((s) => bus.publish(subjects.metrics("learner"), json(s))).catch(() => {});
  }, 2000);
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    o.signal.addEventListener("abort", () => resolve(), { once: true });
    // Alone, the learner honours budget.seconds; under `fedrl run` the launcher stops it after the actors.
    if (exp.budget.seconds > 0 && !process.env.FEDRL_CHILD) setTimeout(resolve, exp.budget.seconds * 1000);
  });
  clearInterval(heartbeat);
  await server.stop();
  clock.stop();
  topo.dispose();
  await web?.http.close();
  web?.prom.close();
  await bus.close();
  await replay.close();
  o.log("learner stopped (checkpoint written)");
}

/**
 * `fedrl ingest [--index i]`: one ingest worker of a hybrid run (learner.ingest.workers), until
 * signalled. Its transitions come from the run's NATS queue group; what it accepts goes into the
 * run's Redis replay; its heartbeat goes to metrics.ingest-<i>.
 */
export async function runIngestProcess(exp: Experiment, index: number, o: ProcessOptions): Promise<void> {
  requireTransports(exp, true);
  const subjects = subjectsFor(exp.run);
  const name = `ingest-${index}`;
  const bus = await openBus(exp.transport.nats, `fedrl-${exp.run}-${name}`, o.log);
  // Workers never clear the shared replay: the learner owns clearOnStart.
  const replay = runReplay({ ...exp, learner: { ...exp.learner, replay: { ...exp.learner.replay, clearOnStart: false } } });
  let parts;
  try {
    parts = await assembleIngestWorker(exp, { bus, replay: await replay.open(envSpaceOf(exp)), log: o.log }, index);
  } catch (e) {
    await bus.close();
    await replay.close();
    throw e;
  }
  const { link, ingest, gate, rejected } = parts;
  await link.start(ingest.onBatch, () => {});
  o.log(`${name} up: run ${exp.run}, replay ${replay.opened()?.kind}, queue group of ${exp.learner.ingest.workers} worker(s)`);
  const beat = () => {
    const l = link.stats();
    return { worker: name, ...ingest.counters, duplicates: ingest.counters.duplicates + l.duplicates, ingestMs: l.decodeMs + ingest.filterMs, receivedBytes: l.receivedBytes, dropped: l.dropped,
      rssMB: process.memoryUsage().rss / 2 ** 20, globalVersion: parts.version(), rejected: rejected.snapshot(), gate: gate.snapshot() };
  };
  const heartbeat = setInterval(() => bus.publish(subjects.metrics(name), json(beat())), 2000);
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    o.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  clearInterval(heartbeat);
  // Batches under way finish (and are answered) before the worker leaves the group.
  await link.close();
  await parts.downlink.close();
  bus.publish(subjects.metrics(name), json({ ...beat(), done: true }));
  parts.dispose();
  await bus.close();
  await replay.close();
  o.log(`${name} stopped: ${JSON.stringify(ingest.counters)}`);
}

/** `fedrl actor --id X`: one actor until its budget or a signal; resumes its checkpoint if one exists. */
export async function runActorProcess(exp: Experiment, id: string, o: ProcessOptions): Promise<Record<string, unknown>> {
  const recipe = recipeOf(exp.mode);
  if (recipe.actors) requireTransports(exp, false);
  const subjects = subjectsFor(exp.run);
  const web = await openHttp(exp, `actor ${id}`, o.log);
  const clock = new WallClock((n, e) => o.log(`timer ${n} failed: ${(e as Error)?.message ?? e}`));
  const bus = recipe.actors ? await openBus(exp.transport.nats, `fedrl-${exp.run}-${id}`, o.log) : undefined;
  const metricsOf = (c: string) => {
    const jsonl = new JsonlMetrics(join(runDirOf(exp), `${c}.jsonl`), c);
    return web ? new TeeMetrics([jsonl, web.prom.sink()]) : jsonl;
  };
  const topo = await assemble(exp, { bus, clock, log: o.log, metrics: metricsOf }, { actors: [id], server: false, byzantine: o.byzantine });
  web?.prom.attach({ actors: topo.actors, server: null, bus });
  if (o.byzantine) o.log(`${id}: Byzantine actor, attack ${o.byzantine}`);
  const actor = topo.actors[0]!;
  const agent = topo.agents[0]!;
  // The actor's only state is its checkpoint: model, optimiser, counters, ε. A restarted actor
  // resumes it; the global model it then receives (if newer) is merged on top as usual.
  const checkpointDir = join(runDirOf(exp), `${id}-checkpoint`);
  if (existsSync(join(checkpointDir, "state.json"))) {
    await agent.restore(checkpointDir);
    const p = agent.progress();
    o.log(`${id}: resumed from ${checkpointDir} (${p.steps} steps${p.epsilon !== undefined ? `, ε ${p.epsilon.toFixed(3)}` : ""})`);
    actor.resumeAt(p.steps, p.episodes);
  }
  await actor.start();
  let saving = false;
  const checkpointTimer = clock.every(exp.learner.checkpoint, async () => {
    if (saving) return;
    saving = true;
    try { await agent.save(checkpointDir); } finally { saving = false; }
  }, `${id}.checkpoint`);
  const t0 = Date.now();
  let last = 0;
  const { budget } = exp;
  const stepPause = exp.actors.maxStepsPerSec > 0 ? 1000 / exp.actors.maxStepsPerSec : 0;
  while (!o.signal.aborted) {
    actor.stepMany(10);
    if (stepPause > 0) await new Promise((r) => setTimeout(r, stepPause * 10));
    else await new Promise((r) => setImmediate(r));
    if (bus && Date.now() - last >= 2000) {
      last = Date.now();
      bus.publish(subjects.metrics(id), json(actor.stats()));
    }
    const m = actor.meanReturn(budget.window);
    if (budgetSpent(exp, actor.steps, actor.episodes, t0) || (budget.targetReturn !== undefined && actor.returns.length >= budget.window && m >= budget.targetReturn)) break;
  }
  await actor.stop();
  checkpointTimer.cancel();
  await agent.save(checkpointDir);
  const stats = actor.stats();
  if (bus) {
    bus.publish(subjects.metrics(id), json({ ...stats, done: true }));
    await bus.close();
  }
  clock.stop();
  topo.dispose();
  await web?.http.close();
  web?.prom.close();
  return stats;
}
