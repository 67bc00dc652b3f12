// A report judged by threat intelligence: the Phishing page shows the "Known to threat
// intelligence" section with the finding and the indicator behind it (source, TLP), in
// English and Italian, as text — the attachment name matched here is an HTML payload.
// Called by tests/e2e/test_phish_intel.py, which imports the indicator and submits the report.
// Input: env SENTINELLA_URL, SCREENSHOTS, CONSOLE_CONFIG ({adminOneTime, adminPassword}).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { SHOTS, launchChromium, firstAdminSignIn, openNewestReport } from "./harness.mjs";
import { join } from "node:path";

async function openIntel(page) {
  await openNewestReport(page, "[data-testid=phish-intel]");
  return page.evaluate(() => {
    const block = document.querySelector("[data-testid=phish-intel]");
    return {
      text: block.textContent,
      hits: [...block.querySelectorAll("[data-testid=phish-intel-hit]")].map((row) => [...row.cells].map((c) => c.textContent)),
      // Anything the payload could have become: elements, handlers, script URLs.
      injected: block.querySelectorAll("img, script, svg, iframe, [onerror], [onload]").length,
      pageInjected: document.querySelectorAll("img[src=x], [onerror]").length,
    };
  });
}

async function main() {
  const browser = await launchChromium();
  const observed = { dialogs: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-GB" });
    const page = await context.newPage();
    page.on("dialog", async (dialog) => { observed.dialogs.push(dialog.message()); await dialog.dismiss(); });
    await firstAdminSignIn(page);
    observed.en = await openIntel(page);
    await page.locator("[data-testid=phish-intel]").screenshot({ path: join(SHOTS, "phish-intel-en.png") });
    await page.selectOption("[data-testid=language]", "it");
    observed.it = await openIntel(page);
    await page.locator("[data-testid=phish-intel]").screenshot({ path: join(SHOTS, "phish-intel-it.png") });
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
