import { busContract, NATS_URL } from "./bus.contract";
import { InProcessBus } from "../../transport/bus-inproc";
import { NatsBus } from "../../transport/bus-nats";

const shared = new InProcessBus();
busContract("in-process", async () => shared, true);
busContract("NATS (real server)", () => NatsBus.connect({ url: NATS_URL, name: "fedrl-test" }), false);
