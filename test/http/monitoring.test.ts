import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { RunMetrics } from "../../launch/prom";

/** The compose `monitoring` profile: Prometheus config, Grafana provisioning and the committed dashboard JSON. */
describe("monitoring profile (Prometheus + Grafana)", () => {
  const m = new RunMetrics({ run: "names", role: "test", mode: "hybrid", env: "CartPole-v1" });
  const known = new Set<string>();
  before(async () => {
    for (const x of await m.registry.getMetricsAsJSON()) known.add(x.name);
    m.close();
  });

  const dash = JSON.parse(readFileSync("monitoring/grafana/dashboards/fedrl.json", "utf8")) as { uid: string; panels: { title: string; type: string; datasource: { uid: string }; targets: { expr: string }[] }[] };
  const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
  const referenced = new Set(exprs.flatMap((e) => [...e.matchAll(/\bfedrl_[a-z0-9_]+/g)].map((x) => x[0])));

  it("the Grafana dashboard JSON parses and every panel queries the provisioned Prometheus", () => {
    const ds = parse(readFileSync("monitoring/grafana/provisioning/datasources/prometheus.yml", "utf8")) as { datasources: { uid: string; url: string }[] };
    const uid = ds.datasources[0]!.uid;
    expect(dash.uid).to.be.a("string");
    expect(dash.panels.length).to.be.greaterThan(8);
    for (const p of dash.panels) {
      expect(p.datasource.uid, p.title).to.equal(uid);
      expect(p.targets.length, p.title).to.be.greaterThan(0);
      for (const t of p.targets) expect(t.expr, p.title).to.match(/fedrl_/);
    }
    const prov = parse(readFileSync("monitoring/grafana/provisioning/dashboards/fedrl.yml", "utf8")) as { providers: { options: { path: string } }[] };
    expect(prov.providers[0]!.options.path).to.equal("/var/lib/grafana/dashboards");
  });

  it("references only metric names fedrl exports (histogram series by their base name)", () => {
    expect(known.size).to.be.greaterThan(30);
    const missing = [...referenced].filter((n) => !known.has(n) && !known.has(n.replace(/_(bucket|sum|count)$/, "")));
    expect(missing).to.deep.equal([]);
  });

  it("mirrors the page: learning curves, rates, filter and replay, rejections by reason, delivery, trust", () => {
    for (const n of ["fedrl_actor_return_mean100", "fedrl_learner_transitions_received_total", "fedrl_learner_updates_total", "fedrl_learner_filter_accept_ratio", "fedrl_replay_size",
      "fedrl_learner_rejected_total", "fedrl_actor_transitions_lost_total", "fedrl_actor_batches_retried_total", "fedrl_aggregation_weight", "fedrl_gate_trust"]) expect(referenced, n).to.include(n);
    expect(exprs.some((e) => /sum by \(reason\)/.test(e))).to.equal(true);
  });

  it("Prometheus scrapes the learner and every actor replica on the --http port", () => {
    const p = parse(readFileSync("monitoring/prometheus.yml", "utf8")) as { scrape_configs: { job_name: string; static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[]; port: number }[] }[] };
    const jobs = Object.fromEntries(p.scrape_configs.map((j) => [j.job_name, j]));
    expect(jobs["fedrl-learner"]!.static_configs![0]!.targets).to.deep.equal(["learner:9464"]);
    expect(jobs["fedrl-actor"]!.dns_sd_configs![0]).to.include({ port: 9464 });
    expect(jobs["fedrl-actor"]!.dns_sd_configs![0]!.names).to.deep.equal(["actor"]);
  });

  it("the compose override puts Prometheus and Grafana in profile monitoring; learner and actors serve --http 9464 (actors keep their replica-index ids)", () => {
    const c = parse(readFileSync("monitoring/compose.yml", "utf8")) as { services: Record<string, any> };
    const s = c.services;
    for (const name of ["prometheus", "grafana"]) expect(s[name].profiles, name).to.deep.equal(["monitoring"]);
    for (const v of [...s.prometheus.volumes, ...s.grafana.volumes] as string[]) expect(existsSync(v.split(":")[0]!), v).to.equal(true);
    expect(s.learner.command.join(" ")).to.match(/--http 9464 --set http\.host=0\.0\.0\.0/);
    expect(s.actor, "the override leaves the actor service (ids, command) to the base file").to.equal(undefined);
    const base = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as { services: Record<string, any> };
    for (const name of ["learner", "actor"]) expect(base.services, name).to.have.property(name);
    expect(base.services.actor.command.join(" ")).to.match(/^actor .*--http 9464 --set http\.host=0\.0\.0\.0/);
    expect(base.services.actor.command.join(" ")).to.not.match(/--id/); // ids from FEDRL_ACTOR_ID or the replica index
    expect(base.services.actor.ports).to.equal(undefined); // replicas scale; Prometheus finds them by DNS
  });
});
