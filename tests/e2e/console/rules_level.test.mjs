// Rules page: an analyst changes a rule's level with its select; a viewer sees the level
// but no control, and the API refuses the viewer's change.
// Called by tests/e2e/test_console_evtx.py.
// Input: env SENTINELLA_URL, SCREENSHOTS, CONSOLE_CONFIG ({analyst, analystPassword, viewer,
// viewerPassword, rule: its title, level: the new level}).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { BASE, SHOTS, CONFIG, launchChromium } from "./harness.mjs";
import { join } from "node:path";

const observed = { dialogs: [] };

async function signIn(browser, user, password, locale) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale });
  const page = await context.newPage();
  page.on("dialog", async (dialog) => { observed.dialogs.push(dialog.message()); await dialog.dismiss(); });
  await page.goto(BASE + "/ui/");
  await page.waitForSelector("[data-testid=signin-form]");
  await page.fill("input[name=user]", user);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=whoami]");
  await page.click("[data-nav=rules]");
  await page.waitForSelector("[data-testid=rules-table]");
  return { context, page };
}

async function main() {
  const browser = await launchChromium();
  try {
    // The analyst: pick the new level; the table reloads from the API with the override.
    const analyst = await signIn(browser, CONFIG.analyst, CONFIG.analystPassword, "en-GB");
    const row = () => analyst.page.locator("[data-testid=rules-table] tr", { hasText: CONFIG.rule });
    observed.selectedBefore = await row().locator("[data-testid=rule-level]").inputValue();
    await row().locator("[data-testid=rule-level]").selectOption(CONFIG.level);
    await analyst.page.waitForFunction((title) => [...document.querySelectorAll("[data-testid=rules-table] tr")]
      .some((tr) => tr.textContent.includes(title) && tr.querySelector("select.level-select.overridden")), CONFIG.rule);
    observed.selectedAfter = await row().locator("[data-testid=rule-level]").inputValue();
    observed.overriddenClass = await row().locator("select.level-select").evaluate((el) => el.classList.contains("overridden"));
    observed.selectTitle = await row().locator("[data-testid=rule-level]").getAttribute("title");
    await analyst.page.screenshot({ path: join(SHOTS, "rules-01-level-override.png") });
    await analyst.context.close();

    // The viewer (Italian browser): a badge with the level and the file's level, no select.
    const viewer = await signIn(browser, CONFIG.viewer, CONFIG.viewerPassword, "it-IT");
    const viewerRow = viewer.page.locator("[data-testid=rules-table] tr", { hasText: CONFIG.rule });
    observed.viewerLevelSelects = await viewer.page.locator("[data-testid=rule-level]").count();
    observed.viewerRuleRow = await viewerRow.textContent();
    observed.viewerPageText = await viewer.page.textContent("main");
    await viewer.page.screenshot({ path: join(SHOTS, "rules-02-viewer.png") });
    observed.viewerForcedLevel = await viewer.page.evaluate(async (title) => {
      const me = await (await fetch("/api/v1/session")).json();
      const listing = await (await fetch("/api/v1/rules")).json();
      const rule = listing.rules.find((r) => r.title === title);
      const answer = await fetch("/api/v1/rules/" + encodeURIComponent(rule.id) + "/level", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf },
        body: JSON.stringify({ level: "low" }),
      });
      return answer.status;
    }, CONFIG.rule);
    await viewer.context.close();
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
