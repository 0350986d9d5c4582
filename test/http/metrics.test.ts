import { expect } from "chai";
import { startLiveRun, until, type LiveRun } from "./run";

/** Parses Prometheus text into samples: name, labels, value. */
function parse(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const sum = (s: ReturnType<typeof parse>, name: string, where: Record<string, string> = {}) =>
  s.filter((x) => x.name === name && Object.entries(where).every(([k, v]) => x.labels[k] === v)).reduce((a, x) => a + x.value, 0);

describe("GET /metrics during an embedded run (Prometheus, prom-client)", function () {
  this.timeout(90_000);
  let run: LiveRun;
  before(async () => { run = await startLiveRun(); });
  after(async () => { await run?.stop(); });

  const scrape = async () => {
    const r = await fetch(new URL("metrics", run.url));
    expect(r.status).to.equal(200);
    expect(r.headers.get("content-type")).to.match(/^text\/plain; version=0\.0\.4/);
    return parse(await r.text());
  };

  it("exposes fedrl_* metrics with run/actor/reason labels, and the counters move between two scrapes", async () => {
    const first = await until(async () => { const s = await scrape(); return sum(s, "fedrl_learner_transitions_received_total") > 0 ? s : null; }, "a first batch at the learner");
    const second = await until(async () => {
      const s = await scrape();
      return sum(s, "fedrl_learner_updates_total") > sum(first, "fedrl_learner_updates_total") && sum(s, "fedrl_aggregation_round") >= 2 && sum(s, "fedrl_learner_rejected_total") > 0 && sum(s, "fedrl_actor_env_steps_total") > sum(first, "fedrl_actor_env_steps_total") ? s : null;
    }, "the counters to move, two aggregation rounds and a refused upload");

    const names = new Set(second.map((x) => x.name));
    for (const n of [
      "fedrl_actor_env_steps_total", "fedrl_actor_episodes_total", "fedrl_actor_return_mean100", "fedrl_actor_epsilon", "fedrl_actor_global_version",
      "fedrl_actor_episode_return_bucket", "fedrl_actor_batches_sent_total", "fedrl_actor_bytes_sent_total", "fedrl_actor_weights_sent_total",
      "fedrl_actor_transitions_acked_total", "fedrl_actor_batches_pending",
      "fedrl_learner_transitions_received_total", "fedrl_learner_transitions_accepted_total", "fedrl_learner_transitions_filtered_total",
      "fedrl_learner_rejected_total", "fedrl_replay_size", "fedrl_replay_capacity", "fedrl_learner_sample_seconds_bucket", "fedrl_learner_ingest_seconds_bucket",
      "fedrl_learner_updates_total", "fedrl_learner_loss", "fedrl_learner_filter_accept_ratio", "fedrl_global_model_version", "fedrl_global_model_norm",
      "fedrl_aggregation_round", "fedrl_aggregation_weight", "fedrl_aggregation_score", "fedrl_aggregation_staleness", "fedrl_gate_trust",
      "fedrl_process_resident_memory_bytes", "fedrl_process_heap_used_bytes", "fedrl_event_loop_lag_p99_seconds",
    ]) expect(names, n).to.include(n);
    for (const x of second) {
      expect(x.name).to.match(/^fedrl_/);
      expect(x.labels.run, x.name).to.equal("http-test");
    }
    // Per actor, every actor.
    for (const id of run.ids) {
      expect(sum(second, "fedrl_actor_env_steps_total", { actor: id }), id).to.be.greaterThan(sum(first, "fedrl_actor_env_steps_total", { actor: id }));
      expect(second.some((x) => x.name === "fedrl_aggregation_weight" && x.labels.actor === id), `weight of ${id}`).to.equal(true);
    }
    // The inflated actor's uploads are refused: by reason and by actor.
    const rej = second.filter((x) => x.name === "fedrl_learner_rejected_total");
    expect(rej.some((x) => x.labels.actor === "actor-2" && x.labels.reason && x.value > 0), JSON.stringify(rej)).to.equal(true);
    expect(sum(second, "fedrl_replay_capacity")).to.equal(100_000);
    expect(sum(second, "fedrl_replay_size")).to.be.greaterThan(0);
    expect(sum(second, "fedrl_learner_sample_seconds_count")).to.be.greaterThan(0);
    expect(sum(second, "fedrl_learner_ingest_seconds_count")).to.be.greaterThan(sum(first, "fedrl_learner_ingest_seconds_count"));
    // Counters never go down between scrapes.
    for (const x of first.filter((f) => f.name.endsWith("_total"))) {
      const y = second.find((s) => s.name === x.name && JSON.stringify(s.labels) === JSON.stringify(x.labels));
      expect(y, `${x.name} ${JSON.stringify(x.labels)}`).to.not.equal(undefined);
      expect(y!.value).to.be.at.least(x.value);
    }
  });

  it("GET /healthz is 200 and /readyz reports the bus, the replay and the learner's ticks", async () => {
    expect((await fetch(new URL("healthz", run.url))).status).to.equal(200);
    const ready = await until(async () => { const r = await fetch(new URL("readyz", run.url)); return r.status === 200 ? (await r.json()) as { ok: boolean; checks: Record<string, { ok: boolean }> } : null; }, "readiness");
    expect(ready.ok).to.equal(true);
    expect(Object.keys(ready.checks).sort()).to.deep.equal(["bus", "learner", "replay", "started"]);
  });

  it("GET /api/state has the dashboard's history, every actor in the trust table and the aggregation rounds", async () => {
    const s = await until(async () => { const j = await (await fetch(new URL("api/state", run.url))).json() as { history: unknown[]; rounds: unknown[]; trust: { actor: string }[] }; return j.history.length > 1 && j.rounds.length > 0 ? j : null; }, "history");
    expect(s.trust.map((t) => t.actor)).to.deep.equal(run.ids);
  });
});
