/**
 * Raw flow records → IoTIntrusion-v0 observations, for serving a trained policy on traffic that did
 * not come from the env (`fedrl serve`'s `{flows: [...]}`).
 *
 * A record is one JSON object:
 * - required: the 14 canonical flow features in raw units (traffic.ts table: `duration_ms`, `fwd_pkts`,
 *   `bwd_pkts`, `fwd_bytes`, `bwd_bytes`, `pkt_len_mean`, `pkt_len_std`, `bytes_per_s`, `pkts_per_s`,
 *   `iat_mean_ms`, `syn_count`, `ttl`, `dst_port`, `is_tcp`), each ≥ 0 and ≤ its FLOW_LIMITS bound;
 *   they go through the env's own scaler (the synthetic physical ranges, or the dataset's fitted
 *   min-max scaler), exactly as the env scales its flows;
 * - optional `device_type`: one of DEVICE_TYPES; absent → the one-hot block stays all 0 ("unknown
 *   type": a value the env never produces, so give it when the inventory knows it);
 * - optional context, already on the observation's scale (names and meaning as INTRUSION_OBS_FIELDS,
 *   README.md): `dev_rate_limited`, `dev_rate_limit_left`, `dev_recently_released`,
 *   `dev_verified_malicious`, `dev_verified_benign`, `dev_escalation_pending`, `hist_decision_1..3`,
 *   `hist_alert_1..3`, `ids_alert`, `dev_alert_rate`, `dev_flow_share`, `gateway_queue`,
 *   `gateway_load`, `isolated_fraction`, each in [0, 1]; absent → 0, the state of a device at the
 *   env's reset: no rate limit, never isolated, no verdict, no history, no IDS alert, an idle gateway.
 * Any other key is refused (a misspelt field must not silently become a default).
 */
import { z } from "zod";
import { DEVICE_TYPES, FLOW_FEATURES, type FlowFeature, type MinMaxScaler } from "./traffic";
import { INTRUSION_OBS_FIELDS, INTRUSION_OBS_SIZE, OBS } from "./intrusion";

/** Largest plausible raw value per canonical feature (the smallest is 0 for all). */
export const FLOW_LIMITS: Record<FlowFeature, number> = {
  duration_ms: 1e10, fwd_pkts: 1e10, bwd_pkts: 1e10, fwd_bytes: 1e13, bwd_bytes: 1e13,
  pkt_len_mean: 1e6, pkt_len_std: 1e6, bytes_per_s: 1e13, pkts_per_s: 1e10, iat_mean_ms: 1e10,
  syn_count: 1e10, ttl: 255, dst_port: 65535, is_tcp: 1,
};

/** Context fields a record may carry (observation scale), with their observation index. */
export const FLOW_CONTEXT_FIELDS: readonly string[] = INTRUSION_OBS_FIELDS.slice(OBS.rateLimited);

const rawField = (f: FlowFeature) => {
  let s = z.number({ error: (iss) => (iss.input === undefined ? "required (a raw flow feature)" : "must be a number") }).min(0, "must be ≥ 0").max(FLOW_LIMITS[f], `must be ≤ ${FLOW_LIMITS[f]}`);
  if (f === "dst_port" || f === "ttl") s = s.int("must be an integer");
  if (f === "is_tcp") return z.union([z.literal(0), z.literal(1)], { error: (iss) => (iss.input === undefined ? "required (a raw flow feature)" : "must be 0 or 1") });
  return s;
};

/** One raw flow record (see the module doc). */
export const FlowRecordSchema = z.strictObject({
  ...Object.fromEntries(FLOW_FEATURES.map((f) => [f, rawField(f)])) as unknown as Record<FlowFeature, z.ZodType<number>>,
  device_type: z.enum(DEVICE_TYPES, { error: `must be one of ${DEVICE_TYPES.join(", ")}` }).optional(),
  ...Object.fromEntries(FLOW_CONTEXT_FIELDS.map((f) => [f, z.number({ error: "must be a number" }).min(0, "must be in [0, 1]").max(1, "must be in [0, 1]").optional()])) as Record<string, z.ZodOptional<z.ZodNumber>>,
});
export type FlowRecord = z.infer<typeof FlowRecordSchema>;

/**
 * Maps validated records to observations (N × INTRUSION_OBS_SIZE, row-major) through `scaler`, which
 * must scale the canonical features (the env's `scaler`).
 */
export function flowsToObservations(records: readonly FlowRecord[], scaler: MinMaxScaler): Float32Array {
  const names = scaler.json.features;
  if (names.length !== FLOW_FEATURES.length || names.some((n, j) => n !== FLOW_FEATURES[j])) throw new Error(`scaler features (${names.join(", ")}) are not the canonical flow features`);
  const D = INTRUSION_OBS_SIZE;
  const out = new Float32Array(records.length * D);
  const raw = new Float64Array(FLOW_FEATURES.length);
  const ctx = FLOW_CONTEXT_FIELDS.map((f) => [f, INTRUSION_OBS_FIELDS.indexOf(f)] as const);
  records.forEach((rec, r) => {
    const row = rec as Record<string, unknown>;
    FLOW_FEATURES.forEach((f, j) => (raw[j] = row[f] as number));
    scaler.transformInto(raw, out, r * D + OBS.flow);
    if (rec.device_type) out[r * D + OBS.devType + DEVICE_TYPES.indexOf(rec.device_type)] = 1;
    for (const [f, i] of ctx) {
      const v = row[f];
      if (typeof v === "number") out[r * D + i] = v;
    }
  });
  return out;
}
