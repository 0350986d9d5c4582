/** Aggregation rules by the name a config gives in `aggregator.rule`. A new rule is one file plus one line here. */
import type { Aggregator } from "./aggregator";
import { FedAvgRule } from "./fedavg";
import { MeanRule } from "./mean";
import { MedianRule } from "./median";
import { TrustRule } from "./trust";

export const AGGREGATORS: Readonly<Record<string, () => Aggregator>> = {
  trust: () => new TrustRule(),
  mean: () => new MeanRule(),
  fedavg: () => new FedAvgRule(),
  median: () => new MedianRule(),
};

export function aggregatorNamed(name: string): Aggregator {
  const make = AGGREGATORS[name];
  if (!make) throw new Error(`unknown aggregation rule "${name}"; valid: ${Object.keys(AGGREGATORS).join(", ")}`);
  return make();
}
