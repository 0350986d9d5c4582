/**
 * Signed global models over a real, auth-enabled nats-server (own instance on a spare port, killed
 * by PID): even a holder of the learner's or admin's NATS credentials — who may write the KV bucket
 * — cannot make actors apply a model the learner did not sign.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authInit, loadIdentities, loadSigningKey, type AuthInitResult } from "../../launch/auth";
import { openBus } from "../../transport/open";
import { BusDownlink, BusServerLink } from "../../transport/links";
import { encodeGlobal } from "../../transport/codec";
import { subjectsFor } from "../../transport/subjects";
import { makeLayout } from "../../core/params";
import { RejectionCounter } from "../../core/errors";
import type { Bus } from "../../core/bus";
import { startNats, type OwnNats } from "./nats-server";

describe("signed global models over an auth-enabled nats-server", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "fedrl-signats-"));
  let nats: OwnNats | undefined;
  let setup: AuthInitResult;
  const buses: Bus[] = [];
  const file = (name: string, what: "seedFile" | "signingKeyFile") => setup.identities.find((i) => i.name === name)![what];
  const connect = async (name: string) => {
    const b = await openBus(nats!.url, `sig-${name}`, undefined, { nkeySeedFile: file(name, "seedFile") });
    buses.push(b);
    return b;
  };
  before(async () => {
    setup = authInit({ run: "signats", actors: 1, out: join(dir, "auth") });
    nats = await startNats(setup.config);
  });
  after(async () => {
    for (const b of buses) await b.close().catch(() => {});
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("actors apply the learner's signed models and refuse a forged KV entry written with admin credentials (bad_signature)", async () => {
    const s = subjectsFor("signats");
    const layout = makeLayout([{ name: "w", shape: [16] }]);
    const ids = loadIdentities(join(dir, "auth", "identities.json"));
    const learnerBus = await connect("learner");
    const link = new BusServerLink(learnerBus, s, { obsDim: 4, actionCount: 2, layout, maxMessageBytes: 1 << 20, rejected: new RejectionCounter(), identities: ids.actors, signingKey: loadSigningKey(file("learner", "signingKeyFile")) });
    await link.publishGlobal({ version: 1, round: 0, layout, params: new Float32Array(16).fill(0.5) });

    const actorBus = await connect("actor-0");
    const got: number[] = [];
    const down = new BusDownlink(actorBus, s, layout, () => {}, Date.now, { verifyKey: ids.learnerKey! });
    await down.subscribe((g) => got.push(g.version));
    const until = async (pred: () => boolean) => {
      for (const t = Date.now() + 20_000; !pred() && Date.now() < t;) await new Promise((r) => setTimeout(r, 50));
    };
    await until(() => got.includes(1));
    expect(got).to.include(1);

    // admin (or a stolen learner nkey) may write the bucket, but holds no learner signing key
    const adminBus = await connect("admin");
    const forged = encodeGlobal({ version: 2, round: 1, ts: Date.now(), layout, params: new Float32Array(16).fill(1e6) });
    await (await adminBus.lastValues(s.bucket)).put("global", forged);
    adminBus.publish(s.global, forged);
    await adminBus.flush();
    await until(() => (down.rejected.snapshot().byReason.bad_signature ?? 0) >= 2);
    expect(down.rejected.snapshot().byReason.bad_signature).to.be.at.least(2); // the KV watch and the subject
    expect(got).to.not.include(2);

    await link.publishGlobal({ version: 3, round: 1, layout, params: new Float32Array(16).fill(0.25) });
    await until(() => got.includes(3));
    expect(got).to.include(3);
    await down.close();
    await link.close();
  });
});
