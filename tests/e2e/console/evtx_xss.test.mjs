// Hostile EVTX fields in the console: search results, every event's detail and original
// text, pivots on hostile values, the alert list and the alert detail. Nothing may execute.
// Called by tests/e2e/test_console_evtx.py, which imports the crafted EVTX file first.
// Input: env SENTINELLA_URL, SCREENSHOTS, CONSOLE_CONFIG ({user, password}: an analyst).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { BASE, CONFIG, check, shot, launchChromium } from "./harness.mjs";

const observed = { dialogs: [], detailTexts: [], pivots: [] };

// No payload ran: no dialog (every payload calls alert()), no element or inline handler an
// injected tag would create, no `javascript:` link, no script but the console's own.
async function assertNoInjection(page, where) {
  check(observed.dialogs.length === 0, `${where}: a dialog opened: ${JSON.stringify(observed.dialogs)}`);
  const injected = await page.evaluate(() => ({
    imgX: document.querySelectorAll("img[src='x'], img[src$='/x']").length,
    svg: document.querySelectorAll("svg").length,
    bold: document.querySelectorAll("main b, aside b").length,
    handlers: document.querySelectorAll("[onerror], [onload], [onclick]").length,
    scripts: [...document.scripts].map((s) => s.src),
    jsLinks: document.querySelectorAll("a[href^='javascript' i]").length,
  }));
  check(injected.imgX === 0, `${where}: injected <img> in the DOM`);
  check(injected.svg === 0, `${where}: injected <svg> in the DOM`);
  check(injected.bold === 0, `${where}: injected <b> in the DOM`);
  check(injected.handlers === 0, `${where}: an inline event handler attribute in the DOM`);
  check(injected.jsLinks === 0, `${where}: a javascript: link is clickable`);
  check(injected.scripts.every((src) => /\/ui\/(app|i18n)\.js$/.test(src)), `${where}: unexpected script ${injected.scripts}`);
}

async function search(page, query) {
  await page.click("[data-nav=search]");
  await page.waitForSelector("[data-testid=query]");
  await page.selectOption("[data-testid=range]", "all");
  await page.fill("[data-testid=query]", query);
  await page.click("[data-testid=run-search]");
  await page.waitForSelector("[data-testid=result-row]");
}

async function openRow(page, index) {
  await page.click(`[data-testid=result-row] >> nth=${index}`);
  await page.waitForFunction((i) => document.querySelectorAll("[data-testid=result-row]")[i]?.classList.contains("selected"), index);
  await page.waitForSelector("[data-testid=drawer] table.fields");
}

// The row of `field` in the open drawer, if the event has it.
function fieldRow(page, field) {
  const name = new RegExp("^" + field.replace(/\./g, "\\.") + "$");
  return page.locator("[data-testid=drawer] tr", { has: page.locator("td.field-name", { hasText: name }) });
}

async function main() {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-GB" });
    const page = await context.newPage();
    page.on("dialog", async (dialog) => { observed.dialogs.push(dialog.message()); await dialog.dismiss(); });

    await page.goto(BASE + "/ui/");
    await page.waitForSelector("[data-testid=signin-form]");
    await page.fill("input[name=user]", CONFIG.user);
    await page.fill("input[name=password]", CONFIG.password);
    await page.click("button[type=submit]");
    await page.waitForSelector("[data-testid=whoami]");

    // 0. The dashboard: store size, retention horizon and policy, ingest health by source.
    await page.waitForSelector("[data-testid=kpi-retention-note]");
    observed.retentionNote = await page.textContent("[data-testid=kpi-retention-note]");
    observed.oldestPartition = await page.textContent("[data-testid=kpi-retention] .kpi-value");
    observed.storeSize = await page.textContent("[data-testid=kpi-size] .kpi-value");
    await page.waitForSelector("[data-testid=source-health-table]");
    observed.healthRows = await page.$$eval("[data-testid=source-health-row]", (rows) => rows.map((row) =>
      [row.querySelector("td").textContent, row.querySelector("[data-testid=source-silent-after]").textContent]));
    // The records were moved to the last minutes: hostile host and user names in the top lists.
    for (const card of ["tophosts", "topusers", "toprules"]) {
      await page.waitForFunction((c) => !document.querySelector(`[data-testid=card-dash\\.${c}]`).textContent.includes("Loading"), card);
    }
    observed.topHosts = await page.textContent("[data-testid=card-dash\\.tophosts]");
    observed.topUsers = await page.textContent("[data-testid=card-dash\\.topusers]");
    observed.topRules = await page.textContent("[data-testid=card-dash\\.toprules]");
    await shot(page, "evtx-00-dashboard");
    await assertNoInjection(page, "dashboard");
    // A top-list entry is a link to the search for that value.
    await page.click("[data-testid=card-dash\\.tophosts] .toplist li >> nth=0");
    await page.waitForSelector("[data-testid=result-row]");
    observed.topHostQuery = await page.inputValue("[data-testid=query]");
    observed.topHostRows = await page.locator("[data-testid=result-row]").count();
    await assertNoInjection(page, "top host search");

    // 1. The result table, with the hostile host, user and command line columns.
    await search(page, "log.parser:evtx");
    observed.resultRows = await page.locator("[data-testid=result-row]").count();
    observed.resultsText = await page.textContent("[data-testid=results-table]");
    await shot(page, "evtx-01-results");
    await assertNoInjection(page, "results");

    // 2. Every event's detail, and the original text of one.
    for (let i = 0; i < observed.resultRows; i++) {
      await openRow(page, i);
      observed.detailTexts.push(await page.textContent("[data-testid=drawer]"));
      if (i === 0) await shot(page, "evtx-02-detail");
      await assertNoInjection(page, `detail ${i}`);
    }
    await openRow(page, 0);
    await page.click("[data-testid=tab-original]");
    observed.originalText = await page.textContent("[data-testid=original]");
    await shot(page, "evtx-03-original");
    await assertNoInjection(page, "original");

    // 3. Pivot on hostile values: the value becomes a quoted clause that finds the event.
    for (const field of ["process.command_line", "host.name", "user.name", "file.path", "process.executable"]) {
      await search(page, "log.parser:evtx");
      let found = false;
      for (let i = 0; i < observed.resultRows && !found; i++) {
        await openRow(page, i);
        found = (await fieldRow(page, field).count()) > 0;
      }
      if (!found) continue;
      await fieldRow(page, field).locator("[data-testid=pivot]").click();
      await page.waitForFunction((f) => document.querySelector("[data-testid=query]").value.includes(f + ":"), field);
      await page.waitForFunction(() => !document.getElementById("results")?.textContent.includes("Loading"));
      await page.waitForSelector("[data-testid=summary]");
      const query = await page.inputValue("[data-testid=query]");
      const rows = await page.locator("[data-testid=result-row]").count();
      observed.pivots.push({ field, query, rows });
      await assertNoInjection(page, `pivot ${field}`);
    }

    // 4. The alert raised on the payload: list and detail.
    await page.click("[data-nav=alerts]");
    await page.selectOption("[data-testid=filter-status]", "");
    await page.selectOption("[data-testid=range]", "all");
    await page.waitForSelector("[data-testid=alert-row]");
    observed.alertsText = await page.textContent("main");
    await assertNoInjection(page, "alert list");
    await page.locator("[data-testid=alert-row]", { hasText: "Markup in a process command line" }).first().click();
    await page.waitForSelector("[data-testid=drawer] [data-testid=ack]");
    observed.alertTitle = await page.textContent("[data-testid=drawer] h2");
    observed.alertDrawerText = await page.textContent("[data-testid=drawer]");
    await shot(page, "evtx-04-alert");
    await assertNoInjection(page, "alert detail");
    await context.close();
  } finally {
    await browser.close();
  }
}

main().then(() => {
  process.stdout.write(JSON.stringify(observed) + "\n");
}).catch((error) => {
  process.stdout.write(JSON.stringify(observed) + "\n");
  process.stderr.write((error && error.stack) || String(error));
  process.exit(1);
});
