import { expect } from "chai";
import { InProcessBus } from "../../transport/bus-inproc";
import { BusDownlink, MAX_VERSION_RATE } from "../../transport/links";
import { encodeGlobal } from "../../transport/codec";
import { subjectsFor } from "../../transport/subjects";
import { makeLayout } from "../../core/params";
import type { GlobalModel } from "../../core/links";

describe("downlink: global model versions", () => {
  it("refuses a version that runs ahead faster than MAX_VERSION_RATE per second (a forged 2^53−1), counted; genuine ones keep flowing", async () => {
    const bus = new InProcessBus();
    const s = subjectsFor("dl-test");
    const layout = makeLayout([{ name: "w", shape: [2] }]);
    let t = 0;
    const down = new BusDownlink(bus, s, layout, () => {}, () => t);
    const got: number[] = [];
    await down.subscribe((g: GlobalModel) => got.push(g.version));
    const send = async (version: number) => {
      bus.publish(s.global, encodeGlobal({ version, round: 1, ts: 0, layout, params: new Float32Array(2) }));
      await bus.flush();
    };
    await send(5);
    await send(Number.MAX_SAFE_INTEGER); // forged
    t += 3000;
    await send(5 + 3 * MAX_VERSION_RATE); // within rate·(1 + 3 s)
    await send(5 + 3 * MAX_VERSION_RATE + 5 * MAX_VERSION_RATE); // too far for 0 s since the last
    expect(got).to.deep.equal([5, 5 + 3 * MAX_VERSION_RATE]);
    expect(down.rejected.snapshot().byReason).to.deep.equal({ version_jump: 2 });
    await down.close();
    await bus.close();
  });
});
