// Console load benchmark: time to first byte of the search page and time until a search's
// results are on screen, in headless Chromium, against a running server.
//
//   node bench.mjs URL USER PASSWORD QUERY [RUNS]
//
// Prints one JSON line: medians and every run, in milliseconds. Not a test: numbers depend
// on the machine; run it on a quiet one (see docs in README, "Console").
import { chromium } from "playwright-core";

const [url, user, password, query, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
try {
  const page = await browser.newPage();
  await page.goto(url + "/ui/");
  await page.waitForSelector("[data-testid=signin-form]");
  await page.fill("input[name=user]", user);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=whoami]");
  const results = [];
  for (let i = 0; i < runs; i++) {
    const target = url + "/ui/search?" + new URLSearchParams({ q: query, range: "all" });
    await page.goto("about:blank");
    const started = Date.now();
    await page.goto(target);
    await page.waitForSelector("[data-testid=summary]", { timeout: 600000 });
    const shown = Date.now() - started;
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      return { ttfb: nav.responseStart - nav.startTime, domContentLoaded: nav.domContentLoadedEventEnd - nav.startTime };
    });
    const summary = await page.textContent("[data-testid=summary]");
    results.push({ ttfb_ms: Math.round(timing.ttfb), dom_ms: Math.round(timing.domContentLoaded), results_shown_ms: shown, summary });
  }
  process.stdout.write(JSON.stringify({
    query,
    median_ttfb_ms: median(results.map((r) => r.ttfb_ms)),
    median_results_shown_ms: median(results.map((r) => r.results_shown_ms)),
    runs: results,
  }) + "\n");
} finally {
  await browser.close();
}
