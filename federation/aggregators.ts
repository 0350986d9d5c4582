/** Aggregation rules by the name a config gives in `aggregator.rule`. A new rule is one file plus one line here. */
import { DEFAULT_RULE_SETTINGS, type Aggregator, type RuleSettings } from "./aggregator";
import { FedAvgRule } from "./fedavg";
import { KrumRule, MultiKrumRule } from "./krum";
import { MeanRule } from "./mean";
import { MedianRule } from "./median";
import { TrimmedMeanRule } from "./trimmed-mean";
import { TrustRule } from "./trust";
import { TrustDeltaRule } from "./trust-delta";

export const AGGREGATORS: Readonly<Record<string, (s: RuleSettings) => Aggregator>> = {
  trust: () => new TrustRule(),
  mean: () => new MeanRule(),
  fedavg: () => new FedAvgRule(),
  median: () => new MedianRule(),
  "trimmed-mean": (s) => new TrimmedMeanRule(s.trim),
  krum: (s) => new KrumRule(s.byzantine),
  "multi-krum": (s) => new MultiKrumRule(s.byzantine, s.select),
  "trust-delta": () => new TrustDeltaRule(),
};

export function aggregatorNamed(name: string, settings: Partial<RuleSettings> = {}): Aggregator {
  const make = AGGREGATORS[name];
  if (!make) throw new Error(`unknown aggregation rule "${name}"; valid: ${Object.keys(AGGREGATORS).join(", ")}`);
  return make({ ...DEFAULT_RULE_SETTINGS, ...settings });
}
