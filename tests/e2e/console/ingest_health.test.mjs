// The dashboard's silent hosts card follows `[ingest_health] silent_after`, in English and
// Italian. Called by tests/e2e/test_ingest_health.py.
// Input: env SENTINELLA_URL, SCREENSHOTS, CONSOLE_CONFIG ({user, password}).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { BASE, SHOTS, CONFIG, launchChromium } from "./harness.mjs";
import { join } from "node:path";

async function main() {
  const browser = await launchChromium();
  const observed = {};
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-GB" });
    const page = await context.newPage();
    await page.goto(BASE + "/ui/");
    await page.waitForSelector("[data-testid=signin-form]");
    await page.fill("input[name=user]", CONFIG.user);
    await page.fill("input[name=password]", CONFIG.password);
    await page.click("button[type=submit]");
    await page.waitForSelector("[data-testid=silent-hosts-label]");
    observed.labelEn = (await page.textContent("[data-testid=silent-hosts-label]")).trim();
    await page.locator("[data-testid=card-dash\\.health]").screenshot({ path: join(SHOTS, "ingest-health-silent-hosts-en.png") });
    await page.selectOption("[data-testid=language]", "it");
    await page.waitForSelector("[data-testid=silent-hosts-label]");
    observed.labelIt = (await page.textContent("[data-testid=silent-hosts-label]")).trim();
    await context.close();
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(observed));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
