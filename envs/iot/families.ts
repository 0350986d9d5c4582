/**
 * Class and family tables of the two public datasets fedrl calibrates against
 * (figures from /work/shared/README.md), and the campaign "kind" each family plays in
 * IoTIntrusion-v0.
 *
 * kind: "benign" | "recon" (scans/probes; precede exploitation) | "exploit" (intrusion
 * attempts) | "flood" (DoS/DDoS; raise the gateway queue) | "c2" (a compromised device
 * talking out: bot, backdoor, worm).
 */
export type DatasetId = "cic-ids2017" | "unsw-nb15";
export type Source = "synthetic" | DatasetId;
export type FamilyKind = "benign" | "recon" | "exploit" | "flood" | "c2";

export interface ClassSpec {
  /** label as written in the dataset (canonical spelling) */
  label: string;
  family: string;
  /** rows in the full public dataset */
  count: number;
}

export interface DatasetProfile {
  id: DatasetId;
  classes: ClassSpec[];
  /** attack families (benign excluded), in a fixed order */
  families: string[];
  kinds: Record<string, FamilyKind>;
  /** the recon family that precedes exploit/c2 campaigns */
  reconFamily: string;
  /** damage of one allowed malicious flow of this family (reward units) */
  severity: Record<string, number>;
}

export const BENIGN = "benign";

export const CIC_IDS2017: DatasetProfile = {
  id: "cic-ids2017",
  classes: [
    { label: "BENIGN", family: BENIGN, count: 2273097 },
    { label: "DoS Hulk", family: "dos", count: 231073 },
    { label: "PortScan", family: "portscan", count: 158930 },
    { label: "DDoS", family: "ddos", count: 128027 },
    { label: "DoS GoldenEye", family: "dos", count: 10293 },
    { label: "FTP-Patator", family: "bruteforce", count: 7938 },
    { label: "SSH-Patator", family: "bruteforce", count: 5897 },
    { label: "DoS slowloris", family: "dos", count: 5796 },
    { label: "DoS Slowhttptest", family: "dos", count: 5499 },
    { label: "Bot", family: "botnet", count: 1966 },
    { label: "Web Attack - Brute Force", family: "webattack", count: 1507 },
    { label: "Web Attack - XSS", family: "webattack", count: 652 },
    { label: "Infiltration", family: "infiltration", count: 36 },
    { label: "Web Attack - Sql Injection", family: "webattack", count: 21 },
    { label: "Heartbleed", family: "heartbleed", count: 11 },
  ],
  families: ["dos", "ddos", "portscan", "bruteforce", "botnet", "webattack", "infiltration", "heartbleed"],
  kinds: {
    benign: "benign", dos: "flood", ddos: "flood", portscan: "recon", bruteforce: "exploit",
    botnet: "c2", webattack: "exploit", infiltration: "exploit", heartbleed: "exploit",
  },
  reconFamily: "portscan",
  severity: {
    dos: 1.0, ddos: 1.0, portscan: 0.3, bruteforce: 1.5, botnet: 1.5, webattack: 1.5,
    infiltration: 2.0, heartbleed: 2.0,
  },
};

export const UNSW_NB15: DatasetProfile = {
  id: "unsw-nb15",
  classes: [
    { label: "Normal", family: BENIGN, count: 2218761 },
    { label: "Generic", family: "generic", count: 215481 },
    { label: "Exploits", family: "exploits", count: 44525 },
    { label: "Fuzzers", family: "fuzzers", count: 24246 },
    { label: "DoS", family: "dos", count: 16353 },
    { label: "Reconnaissance", family: "reconnaissance", count: 13987 },
    { label: "Analysis", family: "analysis", count: 2677 },
    { label: "Backdoor", family: "backdoor", count: 2329 },
    { label: "Shellcode", family: "shellcode", count: 1511 },
    { label: "Worms", family: "worms", count: 174 },
  ],
  families: ["generic", "exploits", "fuzzers", "dos", "reconnaissance", "analysis", "backdoor", "shellcode", "worms"],
  kinds: {
    benign: "benign", generic: "exploit", exploits: "exploit", fuzzers: "recon", dos: "flood",
    reconnaissance: "recon", analysis: "recon", backdoor: "c2", shellcode: "exploit", worms: "c2",
  },
  reconFamily: "reconnaissance",
  severity: {
    generic: 1.0, exploits: 1.5, fuzzers: 0.5, dos: 1.0, reconnaissance: 0.3, analysis: 0.3,
    backdoor: 2.0, shellcode: 2.0, worms: 2.0,
  },
};

export const PROFILES: Record<DatasetId, DatasetProfile> = {
  "cic-ids2017": CIC_IDS2017,
  "unsw-nb15": UNSW_NB15,
};

/** Normalise a raw label: trims, repairs the mis-encoded dash of CIC web-attack labels, collapses spaces. */
export function normaliseLabel(raw: string): string {
  let s = raw.trim();
  // "Web Attack \uFFFD Brute Force" (replacement char), "Web Attack â€“ XSS" (UTF-8 en dash read as cp1252),
  // "Web Attack – Sql Injection" (real en dash), and the Latin-1 reading "â\u0080\u0093".
  // Only a dash between spaces is touched, so "FTP-Patator" stays as it is.
  s = s.replace(/\s+(?:\uFFFD+|â€“|â\u0080\u0093|\u0096|[\u2013\u2014]|-)\s+/g, " - ");
  return s.replace(/\s+/g, " ");
}

/** Map a raw dataset label to its family (undefined when unknown). */
export function familyOf(profile: DatasetProfile, rawLabel: string): string | undefined {
  const n = normaliseLabel(rawLabel).toLowerCase();
  if (n === "") return undefined;
  for (const c of profile.classes) if (c.label.toLowerCase() === n) return c.family;
  if (profile.id === "unsw-nb15") {
    // UNSW-NB15 spellings vary between releases: "Backdoors", " Fuzzers ", empty = Normal
    if (n === "backdoors") return "backdoor";
    if (n === "-" || n === "normal") return BENIGN;
  }
  return undefined;
}

/** Class proportions of the full dataset, by family (benign included). */
export function familyPrior(profile: DatasetProfile): Record<string, number> {
  const total = profile.classes.reduce((s, c) => s + c.count, 0);
  const out: Record<string, number> = {};
  for (const c of profile.classes) out[c.family] = (out[c.family] ?? 0) + c.count / total;
  return out;
}

/** Share of the dataset's rows that are attacks (CIC-IDS2017 19.70 %, UNSW-NB15 12.65 %). */
export function attackShare(profile: DatasetProfile): number {
  return 1 - (familyPrior(profile)[BENIGN] ?? 0);
}

/** Mix over the attack families (benign excluded), in `profile.families` order. */
export function attackMix(profile: DatasetProfile): number[] {
  const prior = familyPrior(profile);
  const w = profile.families.map((f) => prior[f] ?? 0);
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / s);
}
