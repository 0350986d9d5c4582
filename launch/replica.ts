/**
 * An actor's id inside `docker compose up --scale actor=N`: FEDRL_ACTOR_ID when set, else from the
 * replica's index. Compose names replica i+1 `<project>-actor-<i+1>` (v1: `<project>_actor_<i+1>`),
 * and the network's DNS answers that name for the container's address, so a recreated container
 * gets the same id back (and resumes its checkpoint; IoT site i follows the config's partition).
 */
import { promises as dns } from "node:dns";
import { networkInterfaces } from "node:os";

/** Replica index (0-based) from a compose container name, e.g. "fedrl-actor-3.fedrl_default" → 2. */
export function replicaIndexOf(name: string, service = "actor"): number | null {
  const m = new RegExp(`(?:^|[-_])${service}[-_](\\d+)(?:\\.|$)`).exec(name);
  return m && Number(m[1]) >= 1 ? Number(m[1]) - 1 : null;
}

/** The replica index of this container (reverse DNS of its addresses), or null outside compose. */
export async function replicaIndex(service = "actor"): Promise<number | null> {
  const ips = Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal && a.family === "IPv4").map((a) => a!.address);
  for (const ip of ips) {
    try {
      for (const name of await dns.reverse(ip)) {
        const i = replicaIndexOf(name, service);
        if (i !== null) return i;
      }
    } catch {
      /* no reverse name: not in a compose network */
    }
  }
  return null;
}
