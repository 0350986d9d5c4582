/** Every subject and bucket name fedrl uses, in one place. */
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function assertToken(kind: string, v: string): string {
  if (!TOKEN.test(v)) throw new Error(`${kind} "${v}" must be 1-64 chars of letters, digits, '_' or '-' (it is a NATS subject token)`);
  return v;
}

/** The one-byte reply to a transition batch sent as a request. */
export const TRANSITION_REPLY = { REJECTED: 0, ACK: 1, RETRY: 2 } as const;

export interface Subjects {
  run: string;
  transitions(actor: string): string;
  allTransitions: string;
  weights(actor: string): string;
  allWeights: string;
  /** Global model broadcast. */
  global: string;
  /** Per-component metrics/heartbeats (JSON). */
  metrics(component: string): string;
  allMetrics: string;
  /** Last-value bucket holding the latest global model under key `global`. */
  bucket: string;
}

export function subjectsFor(run: string): Subjects {
  assertToken("run name", run);
  const p = `fedrl.${run}`;
  return {
    run,
    transitions: (actor) => `${p}.transitions.${assertToken("actor id", actor)}`,
    allTransitions: `${p}.transitions.*`,
    weights: (actor) => `${p}.weights.${assertToken("actor id", actor)}`,
    allWeights: `${p}.weights.*`,
    global: `${p}.global`,
    metrics: (component) => `${p}.metrics.${assertToken("component", component)}`,
    allMetrics: `${p}.metrics.*`,
    bucket: `fedrl-${run}`,
  };
}

/** Does a concrete subject match a NATS pattern with `*` and `>` wildcards? */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
