// Drives the Sentinella console in headless Debian Chromium with playwright-core.
// Called by tests/e2e/test_console_ui.py, which starts the server and prepares data.
// Input: env SENTINELLA_URL, SCREENSHOTS (a directory), CONSOLE_CONFIG (JSON: admin
// one-time password, new admin password, viewer credentials).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { BASE, SHOTS, CONFIG, check, shot, launchChromium, signIn } from "./harness.mjs";
import { join } from "node:path";

const observed = { dialogs: [], steps: [], consoleErrors: [] };

// No payload may have executed: no dialog, no element an injected tag would create, no
// `javascript:` link.
async function assertNoInjection(page, where) {
  check(observed.dialogs.length === 0, `${where}: a dialog opened: ${JSON.stringify(observed.dialogs)}`);
  const injected = await page.evaluate(() => ({
    imgX: document.querySelectorAll("img[src='x'], img[src$='/x']").length,
    svg: document.querySelectorAll("svg").length,
    scripts: [...document.scripts].map((s) => s.src),
    jsLinks: document.querySelectorAll("a[href^='javascript' i]").length,
    pwned: window.__pwned === true,
  }));
  check(injected.imgX === 0, `${where}: injected <img> in the DOM`);
  check(injected.svg === 0, `${where}: injected <svg> in the DOM`);
  check(injected.jsLinks === 0, `${where}: a javascript: link is clickable`);
  check(!injected.pwned, `${where}: injected script ran`);
  check(injected.scripts.every((src) => /\/ui\/(app|i18n)\.js$/.test(src)), `${where}: unexpected script ${injected.scripts}`);
}

async function main() {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-GB" });
    const page = await context.newPage();
    page.on("dialog", async (dialog) => { observed.dialogs.push(dialog.message()); await dialog.dismiss(); });
    page.on("console", (msg) => { if (msg.type() === "error") observed.consoleErrors.push(msg.text()); });

    // 1. Sign-in page, a wrong password, then the one-time password, which must be changed.
    await page.goto(BASE + "/ui/");
    await page.waitForSelector("[data-testid=signin-form]");
    await shot(page, "01-signin");
    await signIn(page, "admin", "definitely not it");
    await page.waitForFunction(() => document.querySelector("[data-testid=signin-error]").textContent.length > 0);
    observed.wrongPasswordMessage = await page.textContent("[data-testid=signin-error]");
    await signIn(page, "admin", CONFIG.adminOneTime);
    await page.waitForSelector("input[name=new]");
    await shot(page, "02-change-password");
    await page.fill("input[name=current]", CONFIG.adminOneTime);
    await page.fill("input[name=new]", CONFIG.adminPassword);
    await page.fill("input[name=repeat]", CONFIG.adminPassword);
    await page.click("button[type=submit]");
    await page.waitForSelector("[data-testid=signin-form]");
    await signIn(page, "admin", CONFIG.adminPassword);
    await page.waitForSelector("[data-testid=whoami]");
    observed.steps.push("signed-in");

    // 2. Dashboard.
    await page.waitForSelector("[data-testid=kpi-events]");
    await page.waitForFunction(() => !document.querySelector("[data-testid=card-dash\\.toprules]").textContent.includes("Loading"));
    await page.waitForTimeout(300);
    observed.dashboardEvents = await page.textContent("[data-testid=kpi-events] .kpi-value");
    await page.waitForSelector("[data-testid=source-health-table]");
    await page.waitForSelector("[data-testid=silent-hosts-label]");
    observed.silentHostsLabel = await page.textContent("[data-testid=silent-hosts-label]");
    observed.sourceHealthRows = await page.$$eval("[data-testid=source-health-row] td:first-child", (cells) => cells.map((c) => c.textContent));
    await page.locator("[data-testid=card-dash\\.sourcehealth]").screenshot({ path: join(SHOTS, "03b-ingest-health.png") });
    await shot(page, "03-dashboard");
    await assertNoInjection(page, "dashboard");

    // 3. Search, open an event, pivot on a value.
    await page.click("[data-nav=search]");
    await page.waitForSelector("[data-testid=query]");
    await page.selectOption("[data-testid=range]", "all");
    await page.fill("[data-testid=query]", '"Failed password"');
    await page.click("[data-testid=run-search]");
    await page.waitForSelector("[data-testid=result-row]");
    observed.searchSummary = await page.textContent("[data-testid=summary]");
    await shot(page, "04-search");
    await page.click("[data-testid=result-row] >> nth=0");
    await page.waitForSelector("[data-testid=drawer] table.fields");
    observed.detailFields = await page.locator("[data-testid=drawer] td.field-name").allTextContents();
    await shot(page, "05-event-detail");
    await page.click("[data-testid=tab-original]");
    observed.original = await page.textContent("[data-testid=original]");
    await page.click("[data-testid=tab-fields]");
    // Pivot on host.name: the query gains the clause and runs.
    const hostRow = page.locator("[data-testid=drawer] tr", { has: page.locator("td.field-name", { hasText: /^host\.name$/ }) });
    await hostRow.locator("[data-testid=pivot]").click();
    await page.waitForFunction(() => document.querySelector("[data-testid=query]").value.includes("host.name:"));
    await page.waitForSelector("[data-testid=result-row]");
    observed.pivotQuery = await page.inputValue("[data-testid=query]");

    // Saved searches live on the server, per user.
    await page.fill("[data-testid=save-name]", "SSH failures on the host");
    await page.click("[data-testid=save-search]");
    await page.waitForSelector("[data-testid=saved-searches] option:has-text('SSH failures on the host')", { state: "attached" });

    // 4. Hostile log lines render as text.
    await page.fill("[data-testid=query]", "onerror OR script OR javascript");
    await page.click("[data-testid=run-search]");
    await page.waitForSelector("[data-testid=result-row]");
    observed.hostileRows = await page.locator("[data-testid=result-row]").count();
    observed.hostileText = await page.textContent("[data-testid=results-table]");
    await page.click("[data-testid=result-row] >> nth=0");
    await page.waitForSelector("[data-testid=drawer] table.fields");
    await page.waitForTimeout(200);
    await shot(page, "06-hostile-search");
    await assertNoInjection(page, "search");

    await page.selectOption("[data-testid=saved-searches]", { label: "SSH failures on the host" });
    await page.waitForFunction(() => document.querySelector("[data-testid=query]").value.includes("host.name:"));
    await page.waitForSelector("[data-testid=result-row]");
    observed.savedQuery = await page.inputValue("[data-testid=query]");

    // 5. Alerts: open the hostile alert, acknowledge, comment, close as true positive.
    await page.click("[data-nav=alerts]");
    await page.selectOption("[data-testid=filter-status]", "");
    await page.selectOption("[data-testid=range]", "all");
    await page.waitForSelector("[data-testid=alert-row]");
    observed.alertRows = await page.locator("[data-testid=alert-row]").count();
    await shot(page, "07-alerts");
    await page.locator("[data-testid=alert-row]", { hasText: "XSS probe" }).first().click();
    await page.waitForSelector("[data-testid=drawer] [data-testid=ack]");
    observed.alertTitle = await page.textContent("[data-testid=drawer] h2");
    observed.alertDrawerText = await page.textContent("[data-testid=drawer]");
    await shot(page, "08-alert-detail");
    await assertNoInjection(page, "alert detail");
    await page.click("[data-testid=drawer] [data-testid=ack]");
    await page.waitForFunction(() => document.querySelector("[data-testid=drawer] [data-testid=status]")?.textContent === "Acknowledged");
    await page.fill("[data-testid=comment]", "Escalated to CERT <b>not bold</b>");
    await page.click(".comment-form button[type=submit]");
    await page.waitForFunction(() => document.querySelector("[data-testid=drawer] .comments")?.textContent.includes("Escalated to CERT <b>not bold</b>"));
    await page.click("[data-testid=drawer] [data-testid=close-tp]");
    await page.waitForFunction(() => document.querySelector("[data-testid=drawer] [data-testid=status]")?.textContent === "True positive");
    observed.steps.push("alert-closed");
    await shot(page, "09-alert-closed");

    // A real SigmaHQ alert, with its attribution.
    const curl = page.locator("[data-testid=alert-row]", { hasText: "Curl Web Request" }).first();
    if (await curl.count()) {
      await curl.click();
      await page.waitForFunction(() => document.querySelector("[data-testid=drawer] h2")?.textContent.includes("Curl"));
      observed.realAlertText = await page.textContent("[data-testid=drawer]");
      await shot(page, "10-real-alert");
    }

    // Bulk: select the real alert's checkbox and acknowledge from the bulk bar.
    await page.locator("[data-testid=alert-row]", { hasText: "Curl Web Request" }).locator("input[type=checkbox]").check();
    await page.click("#bulkbar [data-testid=ack]");
    await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=alert-row]")]
      .some((row) => row.textContent.includes("Curl Web Request") && row.textContent.includes("Acknowledged")));
    observed.steps.push("bulk-acknowledged");

    // Rules: listed with their state; an analyst or admin switches one off (audited).
    await page.click("[data-nav=rules]");
    await page.waitForSelector("[data-testid=rules-table]");
    observed.rulesSummary = await page.textContent("[data-testid=rules-summary]");
    const xssRule = page.locator("[data-testid=rules-table] tr", { hasText: "XSS probe" });
    // Test it over the last 24 hours: the hostile event ingested above matches once.
    await xssRule.locator("[data-testid=rule-test]").click();
    await page.waitForFunction(() => /alerts over/.test([...document.querySelectorAll("[data-testid=rule-test-result]")].map((e) => e.textContent).join(" ")));
    observed.ruleTest = await xssRule.locator("[data-testid=rule-test-result]").textContent();
    await xssRule.locator("[data-testid=rule-toggle]").click();
    await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=rules-table] tr")]
      .some((row) => row.textContent.includes("XSS probe") && row.textContent.includes("Disabled")));
    await shot(page, "09b-rules");
    await assertNoInjection(page, "rules");
    // Test the (now disabled) rule against a pasted hostile event: it matches, and says why.
    await page.locator("[data-testid=rules-table] tr", { hasText: "XSS probe" }).locator("[data-testid=rule-test-event]").click();
    await page.fill("[data-testid=tester-event]", JSON.stringify({
      winlog: { channel: "Microsoft-Windows-Sysmon/Operational", event_id: "1",
        event_data: { CommandLine: "cmd /c \"><img src=x onerror=alert(21)>", Image: "C:\\Windows\\cmd.exe" } },
    }));
    await page.click("[data-testid=tester-run]");
    await page.waitForSelector("[data-testid=tester-verdict]");
    observed.testerVerdict = await page.textContent("[data-testid=tester-verdict]");
    observed.testerSelections = await page.textContent("[data-testid=tester-selections]");
    observed.testerFields = await page.textContent("[data-testid=tester-fields]");
    // Pasted Sigma YAML that does not match the same event.
    await page.fill("[data-testid=tester-yaml]", "title: Pasted <svg onload=alert(22)>\nlogsource:\n  product: windows\n  category: process_creation\n" +
      "detection:\n  selection:\n    CommandLine|contains: 'certutil'\n  condition: selection\nlevel: low\n");
    await page.click("[data-testid=tester-run]");
    await page.waitForFunction(() => document.querySelector("[data-testid=tester-result]").textContent.includes("Pasted <svg"));
    observed.testerPastedVerdict = await page.textContent("[data-testid=tester-verdict]");
    await shot(page, "09c-rule-tester");
    await assertNoInjection(page, "rule tester");

    // 5c. Phishing: upload a real reported message, read the verdict and why, override it.
    await page.click("[data-nav=phishing]");
    await page.waitForSelector("[data-testid=phish-table]");
    observed.phishListBefore = await page.textContent("[data-testid=phish-table]");
    await page.setInputFiles("[data-testid=phish-file]", CONFIG.phishEml);
    await page.click("[data-testid=phish-upload]");
    await page.waitForSelector("[data-testid=phish-report]");
    observed.phishVerdict = await page.textContent("[data-testid=phish-report] [data-testid=verdict]");
    observed.phishScore = await page.textContent("[data-testid=phish-score]");
    observed.phishSubject = await page.textContent("[data-testid=phish-subject]");
    observed.phishReasons = await page.locator("[data-testid=phish-reasons] li").allTextContents();
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=phish-row]").length === 2);
    await shot(page, "09d-phishing-report");
    await page.selectOption("[data-testid=phish-override-verdict]", "suspicious");
    await page.fill("[data-testid=phish-override-comment]", "Checked with the sender <b>not bold</b>");
    await page.check("[data-testid=phish-override-notify]");
    await page.click("[data-testid=phish-override]");
    await page.waitForSelector("[data-testid=phish-notice]");
    observed.phishNotice = await page.textContent("[data-testid=phish-notice]");
    observed.phishAfterOverride = await page.textContent("[data-testid=phish-report] [data-testid=verdict]");
    observed.phishReportText = await page.textContent("[data-testid=phish-report]");
    // The hostile report (submitted before) opens with its markup shown as text.
    await page.click("[data-testid=phish-row]:has-text('onerror') >> nth=0");
    await page.waitForFunction(() => document.querySelector("[data-testid=phish-subject]").textContent.includes("onerror"));
    observed.phishHostileSubject = await page.textContent("[data-testid=phish-subject]");
    await assertNoInjection(page, "phishing");

    // 6. Language: Italian, kept across a reload (stored for the user), then back.
    await page.selectOption("[data-testid=language]", "it");
    await page.waitForSelector("[data-nav=alerts]:has-text('Allarmi')");
    await page.reload();
    await page.waitForSelector("[data-nav=alerts]");
    observed.navAfterReload = await page.textContent("[data-nav=alerts]");
    await page.click("[data-nav=dashboard]");
    await page.waitForSelector("[data-testid=kpi-events]");
    await page.waitForTimeout(500);
    await shot(page, "11-dashboard-it");
    await page.selectOption("[data-testid=language]", "en");
    await page.waitForSelector("[data-nav=alerts]:has-text('Alerts')");

    // 7. Admin pages.
    await page.click("[data-nav=users]");
    await page.waitForSelector("table.grid");
    await shot(page, "12-users");
    await page.click("[data-nav=audit]");
    await page.waitForSelector("[data-testid=audit-table]");
    observed.auditText = await page.textContent("[data-testid=audit-table]");
    await shot(page, "13-audit");

    // 8. Sign out: the session is gone server-side too.
    await page.click("[data-testid=signout]");
    await page.waitForSelector("[data-testid=signin-form]");
    observed.afterSignOut = await page.evaluate(async () => (await fetch("/api/v1/session")).status);
    await context.close();

    // 9. A viewer reads alerts but cannot change them, in the UI or by calling the API.
    const viewerContext = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "it-IT" });
    const viewer = await viewerContext.newPage();
    viewer.on("dialog", async (dialog) => { observed.dialogs.push(dialog.message()); await dialog.dismiss(); });
    await signIn(viewer, CONFIG.viewer, CONFIG.viewerPassword);
    await viewer.waitForSelector("[data-testid=whoami]");
    observed.viewerDefaultLanguage = await viewer.textContent("[data-nav=alerts]");
    await viewer.click("[data-nav=alerts]");
    await viewer.selectOption("[data-testid=filter-status]", "");
    await viewer.selectOption("[data-testid=range]", "all");
    await viewer.waitForSelector("[data-testid=alert-row]");
    await viewer.click("[data-testid=alert-row] >> nth=0");
    await viewer.waitForSelector("[data-testid=readonly]");
    observed.viewerHasAckButton = await viewer.locator("[data-testid=ack]").count();
    await viewer.click("[data-nav=rules]");
    await viewer.waitForSelector("[data-testid=rules-table]");
    observed.viewerRuleToggles = await viewer.locator("[data-testid=rule-toggle]").count();
    await viewer.click("[data-nav=alerts]");
    await viewer.waitForSelector("[data-testid=alert-row]");
    await viewer.click("[data-testid=alert-row] >> nth=0");
    await viewer.waitForSelector("[data-testid=readonly]");
    await shot(viewer, "14-viewer-alert");
    // The viewer reads phishing reports (reasons in Italian) but has no override control.
    await viewer.click("[data-nav=phishing]");
    await viewer.waitForSelector("[data-testid=phish-row]");
    await viewer.click("[data-testid=phish-row]:not(:has-text('onerror')) >> nth=0");
    await viewer.waitForSelector("[data-testid=phish-report]");
    observed.viewerPhishVerdict = await viewer.textContent("[data-testid=phish-report] [data-testid=verdict]");
    observed.viewerPhishReasons = await viewer.locator("[data-testid=phish-reasons] li").allTextContents();
    observed.viewerPhishOverride = await viewer.locator("[data-testid=phish-override]").count();
    observed.viewerPhishUpload = await viewer.locator("[data-testid=phish-upload]").count();
    await shot(viewer, "14b-viewer-phishing");
    observed.viewerForcedChange = await viewer.evaluate(async () => {
      const me = await (await fetch("/api/v1/session")).json();
      const list = await (await fetch("/api/v1/alerts?limit=1")).json();
      const id = list.hits[0].sentinella.alert.id;
      const answer = await fetch("/api/v1/alerts/" + id + "/status", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf },
        body: JSON.stringify({ status: "closed_false_positive" }),
      });
      return { status: answer.status, body: await answer.json() };
    });
    // Without the CSRF header a state change is refused before the role is even checked.
    observed.noCsrf = await viewer.evaluate(async () => (await fetch("/api/v1/tokens", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "x" }),
    })).status);
    await assertNoInjection(viewer, "viewer");
    await viewerContext.close();
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
