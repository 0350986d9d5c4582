/**
 * FedAvg baseline server: no experience sharing. Each round, the global model is the
 * sample-weighted mean Σ (n_k / Σ n) θ_k of the weights actors sent since the last round; it is
 * published (subject + last-value store) and actors replace their local parameters with it.
 */
import type { Bus, Subscription } from "../runtime/bus";
import type { Clock, Timer } from "../runtime/clock";
import { decodeWeights, encodeGlobal } from "../runtime/codec";
import type { Experiment } from "../runtime/config";
import { CodecError, RejectionCounter } from "../runtime/errors";
import type { MetricsSink } from "../runtime/metrics";
import type { Subjects } from "../runtime/subjects";
import { fedAvg, type ClientParams } from "./aggregation";
import type { ParamLayout } from "./params";

export interface FedAvgDeps {
  exp: Experiment;
  bus: Bus;
  subjects: Subjects;
  clock: Clock;
  metrics: MetricsSink;
  layout: ParamLayout;
  log?: (line: string) => void;
}

export class FedAvgServer {
  version = 0;
  round = 0;
  global: Float32Array | null = null;
  published = 0;
  publishedBytes = 0;
  readonly rejected = new RejectionCounter();
  private fresh = new Map<string, ClientParams>();
  private sub: Subscription | null = null;
  private timer: Timer | null = null;
  constructor(private readonly d: FedAvgDeps) {}

  async start(): Promise<void> {
    const { bus, subjects, clock, exp } = this.d;
    this.sub = bus.subscribe(subjects.allWeights, (m) => this.onWeights(m.subject.slice(m.subject.lastIndexOf(".") + 1), m.data), { maxPending: 1000 });
    this.timer = clock.every(exp.fedavg.round, () => this.runRound(), "fedavg.round");
  }

  onWeights(actor: string, data: Uint8Array): void {
    try {
      const w = decodeWeights(data, this.d.layout);
      if (w.actor !== actor) return void this.rejected.count("bad_id", actor);
      this.fresh.set(actor, { actor, params: w.params, samples: w.samples, receivedAt: this.d.clock.now(), layoutHash: w.layout.hash });
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.rejected.count(e.reason, actor);
    }
  }

  /** Averages this round's clients and publishes; a round with no clients is skipped (logged). */
  async runRound(): Promise<void> {
    // On the step clock, uploads due at this same step are still in the bus: deliver them first.
    if (this.d.clock.kind === "steps") await this.d.bus.flush();
    const clients = [...this.fresh.values()];
    this.fresh.clear();
    this.round++;
    if (clients.length === 0) {
      this.d.metrics.write("fedavg_round", { round: this.round, clients: 0, version: this.version });
      return;
    }
    this.global = fedAvg(clients);
    this.version++;
    const bytes = encodeGlobal({ version: this.version, round: this.round, ts: Date.now(), layout: this.d.layout, params: this.global });
    this.d.bus.publish(this.d.subjects.global, bytes);
    this.published++;
    this.publishedBytes += bytes.length;
    await (await this.d.bus.lastValues(this.d.subjects.bucket)).put("global", bytes);
    this.d.metrics.write("fedavg_round", { round: this.round, clients: clients.length, samples: clients.map((c) => c.samples), version: this.version });
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    await this.sub?.unsubscribe();
  }
}
