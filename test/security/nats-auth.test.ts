/**
 * NATS identities against a real nats-server started here (own config from `fedrl auth init`,
 * own port and JetStream store, killed by PID): who may connect, publish, read and write.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authInit, authInitCli, type AuthInitResult } from "../../launch/auth";
import { NatsBus } from "../../transport/bus-nats";
import { natsAuthFromEnv, nkeyPublicKeyOf, redactUrl, createNkeyUser, type NatsAuth } from "../../transport/nats-auth";
import { openBus } from "../../transport/open";
import { subjectsFor } from "../../transport/subjects";
import { startNats, type OwnNats } from "./nats-server";
import { execFileSync, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { spawnComponent } from "../../launch/multiprocess";
import { decodeGlobal } from "../../transport/codec";
import { replayKeys } from "../../transport/replay-redis";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exitOf = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

describe("auth init: files", () => {
  const dir = mkdtempSync(join(tmpdir(), "fedrl-auth-files-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a server config with public keys only, one 0600 seed per identity, identities.json and USAGE.txt", () => {
    const out = join(dir, "a");
    const r = authInit({ run: "files1", actors: 3, out });
    expect(r.identities.map((i) => i.name)).to.deep.equal(["actor-0", "actor-1", "actor-2", "learner", "admin"]);
    const conf = readFileSync(r.config, "utf8");
    for (const i of r.identities) {
      expect(statSync(i.seedFile).mode & 0o777, i.name).to.equal(0o600);
      const seed = readFileSync(i.seedFile, "utf8").trim();
      expect(seed).to.match(/^SU[A-Z2-7]+$/);
      expect(conf).to.include(i.publicKey);
      expect(conf).not.to.include(seed);
      expect(nkeyPublicKeyOf(i.seedFile)).to.equal(i.publicKey);
    }
    expect(conf).not.to.match(/"SU[A-Z2-7]{20,}/);
    const ids = JSON.parse(readFileSync(join(out, "identities.json"), "utf8"));
    expect(ids.run).to.equal("files1");
    // (a public key may contain "SU" in its middle: look for seeds as whole values)
    expect(JSON.stringify(ids)).not.to.match(/"SU[A-Z2-7]{20,}/);
    for (const i of r.identities) expect(JSON.stringify(ids)).not.to.include(readFileSync(i.seedFile, "utf8").trim());
    const usage = readFileSync(r.usage, "utf8");
    for (const i of r.identities) expect(usage).to.include(`NATS_NKEY=${i.seedFile}`);
    expect(usage).to.include("NATS_URL");
  });

  it("honours --id-prefix and refuses to overwrite a setup without --force", () => {
    const out = join(dir, "b");
    const r1 = authInit({ run: "files2", actors: 2, out, idPrefix: "site" });
    expect(r1.identities.map((i) => i.name)).to.deep.equal(["site-0", "site-1", "learner", "admin"]);
    expect(readFileSync(r1.config, "utf8")).to.include('"fedrl.files2.transitions.site-1"');
    expect(() => authInit({ run: "files2", actors: 2, out })).to.throw(/already holds a setup.*--force/);
    const r2 = authInit({ run: "files2", actors: 2, out, idPrefix: "site", force: true });
    expect(r2.identities[0]!.publicKey).not.to.equal(r1.identities[0]!.publicKey);
  });

  it("CLI: --help 0; bad input is one line and exit 2", async () => {
    const lines: string[] = [];
    const log = (l: string) => void lines.push(l);
    const origLog = console.log;
    console.log = () => {};
    try {
      expect(await authInitCli(["init", "--help"], log)).to.equal(0);
      expect(await authInitCli(["--help"], log)).to.equal(0);
    } finally {
      console.log = origLog;
    }
    const cases: string[][] = [
      [],
      ["frobnicate"],
      ["init", "--actors", "2", "--out", join(dir, "c")],
      ["init", "--run", "r", "--actors", "two", "--out", join(dir, "c")],
      ["init", "--run", "r", "--actors", "0", "--out", join(dir, "c")],
      ["init", "--run", "bad.name", "--actors", "2", "--out", join(dir, "c")],
      ["init", "--run", "r", "--actors", "2", "--out", join(dir, "c"), "--bogus"],
      ["init", "--run", "r", "--actors", "2"],
    ];
    for (const c of cases) {
      lines.length = 0;
      expect(await authInitCli(c, log), c.join(" ")).to.equal(2);
      expect(lines.length, c.join(" ")).to.equal(1);
      expect(lines[0]).not.to.include("\n");
      expect(lines[0]).to.match(/^fedrl auth/);
    }
    expect(existsSync(join(dir, "c"))).to.equal(false);
    lines.length = 0;
    expect(await authInitCli(["init", "--run", "r", "--actors", "2", "--out", join(dir, "c")], log)).to.equal(0);
    expect(lines.join("\n")).to.include("4 identities");
    expect(await authInitCli(["init", "--run", "r", "--actors", "2", "--out", join(dir, "c")], log)).to.equal(2);
  });
});

describe("NATS identities on a real server (own nats-server with the generated config)", function () {
  this.timeout(120_000);
  const run = "sec";
  const s = subjectsFor(run);
  const dir = mkdtempSync(join(tmpdir(), "fedrl-auth-"));
  let setup: AuthInitResult;
  let nats: OwnNats;
  const open: NatsBus[] = [];
  const logs: string[] = [];
  const seed = (name: string) => setup.identities.find((i) => i.name === name)!.seedFile;
  const as = async (name: string): Promise<NatsBus> => {
    const b = await NatsBus.connect({ url: nats.url, name: `test-${name}`, auth: { nkeySeedFile: seed(name) }, log: (l) => void logs.push(`${name}: ${l}`), timeoutMs: 10_000 });
    open.push(b);
    return b;
  };
  const connectError = async (url: string, auth?: NatsAuth): Promise<string> => {
    try {
      const b = await NatsBus.connect({ url, auth, timeoutMs: 10_000 });
      open.push(b);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error("connected without valid credentials");
  };

  before(async () => {
    setup = authInit({ run, actors: 2, out: join(dir, "auth") });
    nats = await startNats(setup.config);
  });
  after(async () => {
    for (const b of open) await b.close().catch(() => {});
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses an unauthenticated connection, a wrong password or token, and an unknown nkey — naming no secret", async () => {
    expect(await connectError(nats.url)).to.match(/^cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: Authorization Violation/);
    const pw = await connectError(nats.url.replace("//", "//alice:hunter2-secret@"));
    expect(pw).to.match(/Authorization Violation/);
    expect(pw).to.include("nats://***@127.0.0.1");
    expect(pw).not.to.include("hunter2-secret");
    expect(pw).not.to.include("alice");
    const tok = await connectError(nats.url.replace("//", "//s3cr3t-token-value@"));
    expect(tok).not.to.include("s3cr3t-token-value");
    const viaAuth = await connectError(nats.url, { user: "bob", password: "pa55-word-xyz" });
    expect(viaAuth).to.match(/Authorization Violation/);
    expect(viaAuth).not.to.include("pa55-word-xyz");
    const viaToken = await connectError(nats.url, { token: "tok-zzz-123" });
    expect(viaToken).not.to.include("tok-zzz-123");
    // A well-formed seed the server does not know.
    const stranger = createNkeyUser();
    const f = join(dir, "stranger.nk");
    writeFileSync(f, `${stranger.seed}\n`, { mode: 0o600 });
    const unk = await connectError(nats.url, { nkeySeedFile: f });
    expect(unk).to.match(/Authorization Violation/);
    expect(unk).not.to.include(stranger.seed);
    // A seed file that is not one: the error names the file, never its content.
    const junk = join(dir, "junk.nk");
    writeFileSync(junk, "SUPER-SECRET-NOT-A-SEED\n", { mode: 0o600 });
    const j = await connectError(nats.url, { nkeySeedFile: junk });
    expect(j).to.include(junk);
    expect(j).not.to.include("SUPER-SECRET");
    expect(await connectError(nats.url, { nkeySeedFile: join(dir, "missing.nk") })).to.match(/cannot read nkey seed .* ENOENT/);
    // The same through openBus and the environment.
    const e = await openBus(nats.url, "env", undefined, natsAuthFromEnv({ NATS_USER: "carol", NATS_PASSWORD: "env-pass-777" })).then(
      () => "connected",
      (x: Error) => x.message,
    );
    expect(e).to.match(/Authorization Violation/);
    expect(e).not.to.include("env-pass-777");
  });

  it("an actor that comes up before the learner gets the global model once the learner writes it", async () => {
    const a0 = await as("actor-0");
    const lv = await a0.lastValues(s.bucket); // may not create the bucket: binds and waits
    expect(await lv.get("global")).to.equal(null);
    const seen: string[] = [];
    const w = await lv.watch("global", (d) => void seen.push(dec(d)!));
    const learner = await as("learner");
    await (await learner.lastValues(s.bucket)).put("global", enc("v1"));
    await until(() => seen.includes("v1"), "the early actor's watch delivers v1");
    w.stop();
    expect(logs.some((l) => /actor-0: .*STREAM\.CREATE/.test(l))).to.equal(true);
  });

  it("the learner identity writes the KV and the global subject; actor-0 reads both", async () => {
    const learner = await as("learner");
    const a0 = await as("actor-0");
    const viaSubject: string[] = [];
    a0.subscribe(s.global, (m) => void viaSubject.push(dec(m.data)!));
    const lvA = await a0.lastValues(s.bucket);
    const watched: string[] = [];
    const w = await lvA.watch("global", (d) => void watched.push(dec(d)!));
    await a0.flush();
    const lvL = await learner.lastValues(s.bucket);
    await lvL.put("global", enc("v2"));
    learner.publish(s.global, enc("g2"));
    await learner.flush();
    await until(() => watched.includes("v2") && viaSubject.includes("g2"), "actor-0 sees the learner's model");
    expect(dec(await lvA.get("global"))).to.equal("v2");
    w.stop();
  });

  it("actor-0 publishes its own transitions (acknowledged), weights and metrics; the learner receives them", async () => {
    const learner = await as("learner");
    const a0 = await as("actor-0");
    const got: string[] = [];
    learner.subscribe(`fedrl.${run}.>`, (m) => {
      got.push(`${m.subject} ${dec(m.data)}`);
      m.respond?.(new Uint8Array([1]));
    });
    await learner.flush();
    const reply = await a0.request(s.transitions("actor-0"), enc("t0"), { timeoutMs: 10_000 });
    expect([...reply]).to.deep.equal([1]);
    a0.publish(s.weights("actor-0"), enc("w0"));
    a0.publish(s.metrics("actor-0"), enc("m0"));
    await a0.flush();
    await until(() => got.length >= 3, "the learner receives actor-0's three messages");
    expect(got).to.include.members([`${s.transitions("actor-0")} t0`, `${s.weights("actor-0")} w0`, `${s.metrics("actor-0")} m0`]);
  });

  it("actor-1 cannot publish as actor-0, write the KV, or publish the global subject (permission violations; nothing arrives; the model is unchanged)", async () => {
    const learner = await as("learner");
    const a0 = await as("actor-0");
    const a1 = await as("actor-1");
    const lvL = await learner.lastValues(s.bucket);
    await lvL.put("global", enc("genuine"));
    const atLearner: string[] = [];
    learner.subscribe(`fedrl.${run}.>`, (m) => {
      atLearner.push(`${m.subject} ${dec(m.data)}`);
      m.respond?.(new Uint8Array([1]));
    });
    const atActor0: string[] = [];
    a0.subscribe(s.global, (m) => void atActor0.push(dec(m.data)!));
    await learner.flush();
    await a0.flush();

    // Impersonation as a request (the acknowledged path): refused by the server.
    let err: Error | null = null;
    await a1.request(s.transitions("actor-0"), enc("forged-req"), { timeoutMs: 10_000 }).catch((e: Error) => void (err = e));
    expect(err, "the forged request must fail").to.not.equal(null);
    expect(err!.message).to.match(/Permissions Violation for Publish to "fedrl\.sec\.transitions\.actor-0"/);
    // ... and as plain publishes (fire and forget): dropped by the server, reported to the sender.
    a1.publish(s.transitions("actor-0"), enc("forged-pub"));
    a1.publish(s.weights("actor-0"), enc("forged-w"));
    a1.publish(s.global, enc("forged-global"));
    await a1.flush();
    // Its own subject still works on the same connection: a marker that arrives after the forgeries would have.
    a1.publish(s.metrics("actor-1"), enc("marker"));
    await a1.flush();
    await until(() => atLearner.includes(`${s.metrics("actor-1")} marker`), "actor-1's own metrics arrive");
    await until(() => logs.filter((l) => l.startsWith("actor-1: nats error: Permissions Violation")).length >= 4, "actor-1 is told of every violation");
    expect(atLearner.filter((l) => /forged/.test(l))).to.deep.equal([]);
    expect(atActor0).to.deep.equal([]);

    // Writing the KV: refused.
    const lv1 = await a1.lastValues(s.bucket);
    let kvErr: Error | null = null;
    await lv1.put("global", enc("forged-model")).catch((e: Error) => void (kvErr = e));
    expect(kvErr, "the forged KV write must fail").to.not.equal(null);
    expect(kvErr!.message).to.match(/Permissions Violation for Publish to "\$KV\.fedrl-sec\.global"/);
    expect(dec(await lvL.get("global"))).to.equal("genuine");
    expect(dec(await lv1.get("global"))).to.equal("genuine");
    // Nor may it touch the stream by the JetStream API (purge / delete).
    const raw = a1.nc;
    for (const subj of [`$JS.API.STREAM.PURGE.KV_${s.bucket}`, `$JS.API.STREAM.DELETE.KV_${s.bucket}`, `$JS.API.STREAM.UPDATE.KV_${s.bucket}`]) {
      const e2 = await raw.request(subj, enc("{}"), { timeout: 10_000 }).then(() => null, (e: Error) => e);
      expect(e2?.message ?? "allowed", subj).to.match(/Permissions Violation/);
    }
    expect(dec(await lvL.get("global"))).to.equal("genuine");
    // And may not listen to other actors' uploads.
    const snoop: string[] = [];
    a1.subscribe(s.allTransitions, (m) => void snoop.push(dec(m.data)!));
    await a1.flush();
    a0.publish(s.transitions("actor-0"), enc("private"));
    await a0.flush();
    await until(() => atLearner.includes(`${s.transitions("actor-0")} private`), "actor-0's batch reaches the learner");
    await until(() => logs.some((l) => /actor-1: .*Permissions Violation for Subscription to "fedrl\.sec\.transitions\.\*"/.test(l)), "the subscription is refused");
    expect(snoop).to.deep.equal([]);
  });

  it("the learner cannot write another run's bucket; admin can do anything", async () => {
    const learner = await as("learner");
    const e = await learner.nc.request("$KV.fedrl-other.global", enc("x"), { timeout: 10_000 }).then(() => null, (x: Error) => x);
    expect(e?.message ?? "allowed").to.match(/Permissions Violation/);
    const admin = await as("admin");
    const lv = await admin.lastValues(`fedrl-adm${Date.now() % 1000}`);
    await lv.put("k", enc("ok"));
    expect(dec(await lv.get("k"))).to.equal("ok");
  });

  it("log lines and errors never carry a seed", () => {
    const seeds = setup.identities.map((i) => readFileSync(i.seedFile, "utf8").trim());
    for (const l of [...logs, ...nats.log]) for (const sd of seeds) expect(l).not.to.include(sd);
  });
});

describe("NATS auth options: environment and redaction", () => {
  it("reads NATS_* (empty = unset)", () => {
    expect(natsAuthFromEnv({})).to.deep.equal({});
    expect(natsAuthFromEnv({ NATS_NKEY: "/s/a.nk", NATS_CREDS: "", NATS_USER: "u", NATS_PASSWORD: "p", NATS_TOKEN: "t", NATS_CA: "/ca.pem", NATS_CERT: "/c.pem", NATS_KEY: "/k.pem" })).to.deep.equal({
      nkeySeedFile: "/s/a.nk", user: "u", password: "p", token: "t", tls: { caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem" },
    });
  });
  it("redacts credentials in URLs", () => {
    expect(redactUrl("nats://u:p@h:4222")).to.equal("nats://***@h:4222");
    expect(redactUrl("nats://tok@h:4222,nats://a:b@h2:4222")).to.equal("nats://***@h:4222,nats://***@h2:4222");
    expect(redactUrl("tls://h:4222")).to.equal("tls://h:4222");
    expect(redactUrl("u:p@h:4222")).to.equal("***@h:4222");
  });
});

describe("a hybrid run with NATS auth on (learner + 2 actor processes, each with its own identity)", function () {
  this.timeout(180_000);
  const run = `auth${Math.random().toString(36).slice(2, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), "fedrl-auth-run-"));
  const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  let setup: AuthInitResult;
  let nats: OwnNats;
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect().then(async () => {
      const k = replayKeys(run);
      await redis.del(k.data, k.cursor, k.meta);
    }).catch(() => {});
    redis.disconnect();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("completes, the global model version moves, and no component hits a permission violation", async () => {
    setup = authInit({ run, actors: 2, out: join(dir, "auth") });
    nats = await startNats(setup.config);
    const cfg = join(dir, "exp.yaml");
    writeFileSync(cfg, `
run: ${run}
mode: hybrid
seed: 5
runDir: ${join(dir, "run")}
env: { id: CartPole-v1 }
agent: { lr: 0.001, learningStarts: 200 }
actors: { count: 2, batchSteps: 100, batchMs: 300, weights: { ms: 800 } }
learner: { tick: { ms: 200 }, updatesPerTick: 10, publish: { ms: 500 }, warmup: 200, replay: { capacity: 20000 } }
aggregator: { interval: { ms: 1500 }, staleAfter: { ms: 10000 } }
budget: { seconds: 10 }
eval: { episodes: 0 }
`);
    // Only this component's identity: no NATS_* inherited from the shell running the tests.
    const base: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NATS_")));
    const envOf = (name: string) => ({ ...base, NATS_URL: nats.url, REDIS_URL, FEDRL_CHILD: "1", NATS_NKEY: setup.identities.find((i) => i.name === name)!.seedFile });
    const logs: string[] = [];
    const spawn = (args: string[], name: string) => {
      const c = spawnComponent([...args, "--config", cfg], envOf(name), name, (l) => void logs.push(l));
      children.push(c);
      return c;
    };
    const learner = spawn(["learner"], "learner");
    for (let i = 0; i < 600 && !logs.some((l) => /learner up:/.test(l)) && learner.exitCode === null; i++) await sleep(100);
    expect(logs.some((l) => /learner up:/.test(l)), logs.slice(-10).join("\n")).to.equal(true);
    // First an impostor: actor-1's identity claiming to be actor-0. The server refuses every upload;
    // the learner's replay stays empty.
    const admin = await NatsBus.connect({ url: nats.url, auth: { nkeySeedFile: setup.identities.find((i) => i.name === "admin")!.seedFile } });
    const beats: { replay?: { size?: number } }[] = [];
    admin.subscribe(subjectsFor(run).metrics("learner"), (m) => void beats.push(JSON.parse(dec(m.data)!)));
    const impostorEnv = { ...envOf("actor-1") };
    const impostor = spawnComponent(["actor", "--id", "actor-0", "--config", cfg, "--set", "budget.seconds=3", "--set", `runDir=${join(dir, "impostor")}`], impostorEnv, "impostor", (l) => void logs.push(l));
    children.push(impostor);
    await exitOf(impostor);
    await until(() => logs.some((l) => /^\[impostor\] .*Permissions Violation for Publish to "fedrl\.auth\w+\.transitions\.actor-0"/.test(l)), "the impostor is refused");
    const n = beats.length;
    await until(() => beats.length >= n + 1, "a learner heartbeat after the impostor");
    expect(beats.at(-1)!.replay?.size ?? 0).to.equal(0);

    const actors = [spawn(["actor", "--id", "actor-0"], "actor-0"), spawn(["actor", "--id", "actor-1"], "actor-1")];
    for (const a of actors) expect(await exitOf(a), logs.slice(-20).join("\n")).to.equal(0);
    learner.kill("SIGINT");
    expect(await exitOf(learner), logs.slice(-20).join("\n")).to.equal(0);
    expect(logs.filter((l) => !l.startsWith("[impostor]") && /Permissions Violation|Authorization Violation/i.test(l))).to.deep.equal([]);
    const seeds = setup.identities.map((i) => readFileSync(i.seedFile, "utf8").trim());
    for (const l of logs) for (const sd of seeds) expect(l).not.to.include(sd);

    try {
      const g = decodeGlobal((await (await admin.lastValues(subjectsFor(run).bucket)).get("global"))!);
      expect(g.version).to.be.greaterThan(0);
    } finally {
      await admin.close();
    }
    // The actors applied global models (their final stats carry the version they hold).
    const done = logs.filter((l) => !l.startsWith("[impostor]") && /actor actor-\d done:/.test(l)).map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { globalVersion?: number });
    expect(done.length).to.equal(2);
    for (const d of done) expect(d.globalVersion ?? 0).to.be.greaterThan(0);
  });
});

describe("NATS over TLS with a private CA and client certificates (own nats-server)", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "fedrl-auth-tls-"));
  let nats: OwnNats | undefined;
  let setup: AuthInitResult;
  const f = (n: string) => join(dir, n);
  const seedOf = (name: string) => setup.identities.find((i) => i.name === name)!.seedFile;
  after(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  before(async function () {
    const ssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    try {
      ssl(["version"]);
    } catch {
      this.skip();
    }
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    ssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=fedrl test CA"]);
    writeFileSync(f("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    writeFileSync(f("client.ext"), "extendedKeyUsage=clientAuth\n");
    for (const who of ["server", "client"]) {
      ssl(["req", ...ec, "-keyout", `${who}.key`, "-out", `${who}.csr`, "-subj", `/CN=fedrl ${who}`]);
      ssl(["x509", "-req", "-in", `${who}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${who}.pem`, "-days", "2", "-extfile", `${who}.ext`]);
    }
    setup = authInit({ run: "tls1", actors: 1, out: f("auth") });
    writeFileSync(f("tls.conf"), `include "auth/nats-server.conf"\ntls {\n  cert_file: "${f("server.pem")}"\n  key_file: "${f("server.key")}"\n  ca_file: "${f("ca.pem")}"\n  verify: true\n  timeout: 5\n}\n`);
    nats = await startNats(f("tls.conf"));
  });

  it("connects with NATS_CA + NATS_CERT/NATS_KEY + NATS_NKEY; refused without the CA or without a client certificate", async () => {
    const url = nats!.url.replace("nats://", "tls://");
    const env = { NATS_NKEY: seedOf("actor-0"), NATS_CA: f("ca.pem"), NATS_CERT: f("client.pem"), NATS_KEY: f("client.key") };
    const ok = await openBus(url, "tls-ok", undefined, natsAuthFromEnv(env));
    ok.publish(subjectsFor("tls1").metrics("actor-0"), enc("hello"));
    await ok.flush();
    await ok.close();
    const fails = async (auth: NatsAuth) => NatsBus.connect({ url, auth, timeoutMs: 5000, reconnectTimeWaitMs: 100 }).then(async (b) => {
      await b.close();
      return "connected";
    }, (e: Error) => e.message);
    const noCa = await fails(natsAuthFromEnv({ ...env, NATS_CA: "" }));
    expect(noCa).to.match(/^cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: /);
    expect(noCa).to.match(/certificate/);
    const noCert = await fails(natsAuthFromEnv({ NATS_NKEY: env.NATS_NKEY, NATS_CA: env.NATS_CA }));
    expect(noCert).to.match(/^cannot connect to NATS/);
    // A certificate without its key is a configuration error, said before connecting.
    expect(await fails(natsAuthFromEnv({ ...env, NATS_KEY: "" }))).to.match(/needs both NATS_CERT and NATS_KEY/);
    const keyPem = readFileSync(f("client.key"), "utf8");
    for (const m of [noCa, noCert]) expect(m).not.to.include(keyPem.split("\n")[1]!);
  });
});
