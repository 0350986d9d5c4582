/**
 * Methods as data: which server nodes a recipe runs and how its actors are linked. One
 * `assemble()` (launch/assemble.ts) reads these for the embedded and the multi-process launchers.
 */
export interface Recipe {
  readonly name: string;
  readonly summary: string;
  /** The hybrid global learner: transitions → filter → replay → training of the global model. */
  readonly learner: boolean;
  /** The aggregation node and its defaults (config `aggregator.rule` / `aggregator.alpha` override them). */
  readonly aggregation: null | {
    rule: string;
    alpha: number;
    /** Average only the uploads since the last round (synchronous FedAvg rounds). */
    forgetAfterRound: boolean;
    /** Publish the global model right after a round that changed it. */
    publishOnChange: boolean;
  };
  /** Publish the global model on `learner.publish` (and once at start). */
  readonly periodicPublish: boolean;
  /** How actors are linked (null: they learn alone). */
  readonly actors: null | {
    shipTransitions: boolean;
    /** "config": actors.merge / blendBeta decide; "replace": clients adopt the global model. */
    adopt: "config" | "replace";
  };
}

export const RECIPES: Readonly<Record<string, Recipe>> = {
  hybrid: {
    name: "hybrid",
    summary: "actors share diversity-filtered experience with a global learner and blend weights through the aggregator",
    learner: true,
    aggregation: { rule: "trust", alpha: 0.5, forgetAfterRound: false, publishOnChange: false },
    periodicPublish: true,
    actors: { shipTransitions: true, adopt: "config" },
  },
  fedavg: {
    name: "fedavg",
    summary: "no experience sharing; each round the global model is the sample-weighted mean of the uploads, which actors adopt",
    learner: false,
    aggregation: { rule: "fedavg", alpha: 0, forgetAfterRound: true, publishOnChange: true },
    periodicPublish: false,
    actors: { shipTransitions: false, adopt: "replace" },
  },
  local: {
    name: "local",
    summary: "independent actors, no communication",
    learner: false,
    aggregation: null,
    periodicPublish: false,
    actors: null,
  },
};

export function recipeOf(mode: string): Recipe {
  const r = RECIPES[mode];
  if (!r) throw new Error(`unknown mode "${mode}"; valid: ${Object.keys(RECIPES).join(", ")}`);
  return r;
}

/** Does this recipe have a server side (learner and/or aggregation)? */
export const hasServer = (r: Recipe) => r.learner || r.aggregation !== null;
