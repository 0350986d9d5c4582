import { expect } from "chai";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

/** Structure of the container topology (Docker's own parser also checks it in .ci/run). */
describe("docker-compose.yml", () => {
  const doc = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as { services: Record<string, any> };
  const s = doc.services;

  it("has nats (JetStream on), redis, a learner and an actor service", () => {
    expect(Object.keys(s).sort()).to.deep.equal(["actor", "learner", "nats", "redis"]);
    expect(s.nats.command).to.include("-js");
  });

  it("runs the learner and a scalable actor from the one image, over NATS and Redis", () => {
    expect(s.learner.command[0]).to.equal("learner");
    expect(s.actor.entrypoint.join(" ")).to.match(/fedrl\.mjs actor .*--id/);
    for (const svc of [s.learner, s.actor]) {
      expect(svc.image).to.equal("fedrl:latest");
      expect(svc.environment.NATS_URL).to.equal("nats://nats:4222");
      expect(svc.environment.REDIS_URL).to.equal("redis://redis:6379");
      expect(svc.stop_signal).to.equal("SIGINT"); // drain and checkpoint on stop
    }
    // `--scale actor=N` needs no fixed name or host port on the actor.
    expect(s.actor.container_name).to.equal(undefined);
    expect(s.actor.ports).to.equal(undefined);
  });

  it("ships every config the compose default points at", () => {
    const m = /configs\/[\w-]+\.yaml/.exec(JSON.stringify(s.learner.command))!;
    expect(() => readFileSync(m[0])).not.to.throw();
  });
});
