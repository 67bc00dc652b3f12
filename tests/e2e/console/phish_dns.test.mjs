// A report whose live DNS lookups timed out: the Phishing page's authentication section says
// so ("DNS timeout", the checks not verified), in English and Italian, as text.
// Called by tests/e2e/test_phish_dns.py, which starts the server with a silent DNS server
// and submits the report.
// Input: env SENTINELLA_URL, SCREENSHOTS, CONSOLE_CONFIG ({adminOneTime, adminPassword}).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { SHOTS, launchChromium, firstAdminSignIn, openNewestReport } from "./harness.mjs";
import { join } from "node:path";

async function openReport(page) {
  await openNewestReport(page, "[data-testid=phish-dns-failure]");
  return (await page.textContent("[data-testid=phish-dns-failure]")).trim();
}

async function main() {
  const browser = await launchChromium();
  const observed = { dialogs: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-GB" });
    const page = await context.newPage();
    page.on("dialog", async (dialog) => { observed.dialogs.push(dialog.message()); await dialog.dismiss(); });
    await firstAdminSignIn(page);
    observed.failureEn = await openReport(page);
    observed.authEn = await page.textContent("[data-testid=phish-auth]");
    await page.locator("[data-testid=phish-auth]").screenshot({ path: join(SHOTS, "phish-dns-failure-en.png") });
    await page.selectOption("[data-testid=language]", "it");
    observed.failureIt = await openReport(page);
    observed.authIt = await page.textContent("[data-testid=phish-auth]");
    await page.locator("[data-testid=phish-auth]").screenshot({ path: join(SHOTS, "phish-dns-failure-it.png") });
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
