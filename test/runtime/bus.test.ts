import { busContract, NATS_URL } from "./bus.contract";
import { InProcessBus } from "../../runtime/bus-inproc";
import { NatsBus } from "../../runtime/bus-nats";

const shared = new InProcessBus();
busContract("in-process", async () => shared, true);
busContract("NATS (real server)", () => NatsBus.connect({ url: NATS_URL, name: "fedrl-test" }), false);
