import type { Bus } from "./bus";
import { InProcessBus } from "./bus-inproc";
import { NatsBus } from "./bus-nats";

/** NATS when a URL is given, otherwise the in-process bus (embedded default). */
export async function openBus(natsUrl: string | undefined, name: string, log?: (l: string) => void): Promise<Bus> {
  return natsUrl ? NatsBus.connect({ url: natsUrl, name, log }) : new InProcessBus();
}
