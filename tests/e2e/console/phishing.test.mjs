// The console's Phishing page in headless Debian Chromium (playwright-core): the Campaigns
// view and a campaign's detail, the analysis details of a hostile message (which must render
// as text), and a verdict override that tells the reporter.
// Called by tests/e2e/test_phish_campaigns.py, which starts the server and sends the reports.
// Input: env SENTINELLA_URL, SCREENSHOTS (a directory), CONSOLE_CONFIG (JSON: admin
// one-time password, new admin password, id of the hostile report).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { SHOTS, check, launchChromium, firstAdminSignIn } from "./harness.mjs";
import { join } from "node:path";

const observed = { dialogs: [], steps: [], consoleErrors: [] };

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, name + ".png"), fullPage: true });
}

// No payload may have executed: no dialog, no element an injected tag would create, no
// `javascript:` link.
async function assertNoInjection(page, where) {
  check(observed.dialogs.length === 0, `${where}: a dialog opened: ${JSON.stringify(observed.dialogs)}`);
  const injected = await page.evaluate(() => ({
    imgX: document.querySelectorAll("img[src='x'], img[src$='/x']").length,
    svg: document.querySelectorAll("svg").length,
    scripts: [...document.scripts].map((s) => s.src),
    jsLinks: document.querySelectorAll("a[href^='javascript' i]").length,
    bold: document.querySelectorAll("main b").length,
  }));
  check(injected.imgX === 0, `${where}: injected <img> in the DOM`);
  check(injected.svg === 0, `${where}: injected <svg> in the DOM`);
  check(injected.jsLinks === 0, `${where}: a javascript: link is clickable`);
  check(injected.bold === 0, `${where}: injected <b> in the DOM`);
  check(injected.scripts.every((src) => /\/ui\/(app|i18n)\.js$/.test(src)), `${where}: unexpected script ${injected.scripts}`);
}

let current = null;

async function main() {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-GB" });
    const page = await context.newPage();
    current = page;
    page.on("dialog", async (dialog) => { observed.dialogs.push(dialog.message()); await dialog.dismiss(); });
    page.on("console", (msg) => { if (msg.type() === "error") observed.consoleErrors.push(msg.text()); });

    // The one-time admin password must be changed first.
    await firstAdminSignIn(page);
    observed.steps.push("signed-in");

    // Intake counters and the Campaigns view.
    await page.click("[data-nav=phishing]");
    await page.waitForSelector("[data-testid=phish-kpi-received]");
    observed.statsReceived = (await page.textContent("[data-testid=phish-kpi-received] .kpi-value")).trim();
    await page.click("[data-testid=phish-tab-campaigns]");
    await page.waitForSelector("[data-testid=campaign-table]");
    observed.campaignRows = await page.locator("[data-testid=campaign-row]").count();
    await shot(page, "p1-campaigns");
    await page.click("[data-testid=campaign-row] >> nth=0");
    await page.waitForSelector("[data-testid=campaign-detail]");
    observed.campaignReports = await page.locator("[data-testid=campaign-reports] [data-testid=phish-row]").count();
    observed.campaignShared = await page.locator("[data-testid=campaign-detail] [data-testid=campaign-shared]").allTextContents();
    observed.campaignReporters = (await page.textContent("[data-testid=campaign-reporters]")).trim();
    await shot(page, "p2-campaign-detail");
    observed.steps.push("campaigns");

    // A report of the campaign: override with a notice to its reporter.
    await page.click("[data-testid=campaign-reports] [data-testid=phish-row] >> nth=0");
    await page.waitForSelector("[data-testid=phish-report]");
    await page.waitForSelector("[data-testid=phish-analysis]");
    await page.selectOption("[data-testid=phish-override-verdict]", "likely_safe");
    await page.fill("[data-testid=phish-override-comment]", "Known vendor <b>not bold</b>");
    await page.check("[data-testid=phish-override-notify]");
    await page.click("[data-testid=phish-override]");
    await page.waitForSelector("[data-testid=phish-notice]");
    observed.notice = (await page.textContent("[data-testid=phish-notice]")).trim();
    observed.afterOverride = (await page.textContent("[data-testid=phish-report] [data-testid=verdict]")).trim();
    observed.intelText = await page.locator("[data-testid=phish-intel]").allTextContents();
    await shot(page, "p4-override");
    observed.steps.push("override");

    // The hostile report's analysis details, from the Reports view.
    await page.click("[data-testid=phish-tab-reports]");
    await page.waitForSelector("[data-testid=phish-table]");
    await page.click("[data-testid=phish-row]:has-text('invoice') >> nth=0");
    await page.waitForFunction(() => (document.querySelector("[data-testid=phish-subject]") || {}).textContent?.includes("invoice"));
    await page.waitForSelector("[data-testid=phish-analysis]");
    observed.hostileSubject = (await page.textContent("[data-testid=phish-subject]")).trim();
    observed.hostileDetails = await page.textContent("[data-testid=phish-analysis]");
    observed.authText = await page.textContent("[data-testid=phish-auth]");
    observed.attachmentRows = await page.locator("[data-testid=phish-attachment]").count();
    observed.linkItems = await page.locator("[data-testid=phish-link]").count();
    await assertNoInjection(page, "hostile analysis");
    await shot(page, "p3-hostile-details");
    observed.steps.push("hostile");

    // In Italian: the tabs, the counters and the campaign view.
    await page.selectOption("[data-testid=language]", "it");
    await page.waitForSelector("[data-testid=phish-tab-campaigns]:has-text('Campagne')");
    await page.click("[data-testid=phish-tab-campaigns]");
    await page.waitForSelector("[data-testid=campaign-row]");
    await page.click("[data-testid=campaign-row] >> nth=0");
    await page.waitForSelector("[data-testid=campaign-detail]");
    observed.italianStats = await page.textContent("[data-testid=phish-stats] .card-title");
    observed.italianCampaign = await page.textContent("[data-testid=campaign-detail] h2");
    await assertNoInjection(page, "italian");
    await shot(page, "p5-campaign-it");

    // 401s are the sign-in page asking for a session it does not have yet.
    const errors = observed.consoleErrors.filter((e) => !e.includes("401"));
    check(errors.length === 0, "console errors: " + errors.join(" | "));
  } catch (err) {
    if (current) await shot(current, "p0-failure").catch(() => {});
    throw err;
  } finally {
    await browser.close();
  }
}

main().then(() => {
  process.stdout.write(JSON.stringify(observed) + "\n");
}).catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.stdout.write(JSON.stringify(observed) + "\n");
  process.exit(1);
});
