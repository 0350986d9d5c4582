import { expect } from "chai";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";
import { startLiveRun, type LiveRun } from "./run";

/**
 * The dashboard in a real browser: Debian's chromium (headless) driven by puppeteer-core, which
 * downloads no browser. `.ci/run` installs chromium when it is missing. The screenshot goes to this
 * test's output folder (printed); FEDRL_DOCS_SCREENSHOT=1 also copies it to docs/dashboard.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("dashboard page in headless chromium", function () {
  this.timeout(120_000);
  let run: LiveRun | undefined;
  let browser: Browser | undefined;

  before(function () {
    if (!existsSync(CHROMIUM)) {
      console.warn(`SKIPPED: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
      this.skip();
    }
  });
  after(async () => {
    await browser?.close();
    await run?.stop();
  });

  it("loads during a run, fills its charts and the trust table with every actor, without console errors", async () => {
    run = await startLiveRun();
    browser = await puppeteer.launch({
      executablePath: CHROMIUM, headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check"],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: 900 });
    const errors: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => errors.push(`page: ${(e as Error).message}`));
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
    await page.goto(run.url, { waitUntil: "load" });

    // Data arrives: every chart has points, the heat map has rounds. (Page code is passed as text:
    // tsx would wrap functions in helpers the page does not have.)
    const POINTS = `(c) => c ? c.plot.data.slice(1).reduce((n, s) => n + s.filter((v) => v !== null && Number.isFinite(v)).length, 0) : 0`;
    await page.waitForFunction(`(() => {
      const d = window.fedrlDashboard, points = ${POINTS};
      return Boolean(d) && d.polls >= 4 && ["curves", "rates", "filter", "rejections", "delivery"].every((id) => points(d.charts[id]) > 3) && document.querySelectorAll("#heatmap td").length >= 6;
    })()`, { timeout: 60_000, polling: 250 });

    const seen = (await page.evaluate(`(() => {
      const d = window.fedrlDashboard, points = ${POINTS};
      const charts = {};
      for (const [id, c] of Object.entries(d.charts)) charts[id] = { series: c.plot.series.slice(1).map((s) => s.label), points: points(c), canvas: Boolean(document.querySelector("#" + id + " canvas")) };
      return {
        charts,
        trust: [...document.querySelectorAll("#trust tbody tr")].map((tr) => tr.dataset.actor),
        heatRows: [...document.querySelectorAll("#heatmap tr th:first-child")].map((th) => th.textContent),
        summary: document.querySelector("#summary").textContent,
      };
    })()`)) as { charts: Record<string, { series: string[]; points: number; canvas: boolean }>; trust: string[]; heatRows: string[]; summary: string };
    for (const id of ["curves", "rates", "filter", "rejections", "delivery"]) {
      expect(seen.charts[id], id).to.not.equal(undefined);
      expect(seen.charts[id]!.canvas, `${id} draws on a canvas`).to.equal(true);
      expect(seen.charts[id]!.points, `${id} has data points`).to.be.greaterThan(3);
    }
    expect(seen.charts.curves!.series).to.deep.equal([...run.ids, "mean of actors"]);
    expect(seen.trust).to.deep.equal(run.ids);
    expect(seen.heatRows).to.include.members(run.ids);
    expect(seen.summary).to.match(/env steps · 3 actors · global v\d+ · round \d+/);

    const out = mkdtempSync(join(tmpdir(), "fedrl-dashboard-"));
    const png = join(out, "dashboard.png");
    await page.screenshot({ path: png as `${string}.png`, fullPage: true });
    expect(statSync(png).size).to.be.greaterThan(20_000);
    console.log(`      screenshot: ${png}`);
    if (process.env.FEDRL_DOCS_SCREENSHOT === "1") {
      mkdirSync("docs", { recursive: true });
      copyFileSync(png, join("docs", "dashboard.png"));
    }
    await browser.close();
    browser = undefined;
    expect(errors).to.deep.equal([]);
  });
});
