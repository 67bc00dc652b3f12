// OpenID Connect sign-in in the browser: the sign-in page's "Sign in with …" button (English
// and Italian), the provider's own login form, back to the console signed in; an unmapped
// user comes back to the sign-in page with the reason, in Italian.
// Called by tests/e2e/test_oidc.py.
// Input: env SENTINELLA_URL, SCREENSHOTS, CONSOLE_CONFIG ({provider: display name,
// user: a mapped account, unmapped: an account without role}).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const BASE = process.env.SENTINELLA_URL;
const SHOTS = process.env.SCREENSHOTS;
const CONFIG = JSON.parse(process.env.CONSOLE_CONFIG);
mkdirSync(SHOTS, { recursive: true });

const observed = {};

// The provider's development login form, then its consent form when it asks.
async function throughProvider(page, login) {
  await page.waitForSelector("input[name=login]");
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", "any password");
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  if (await page.locator("input[name=prompt][value=consent]").count()) {
    await page.click("button[type=submit]");
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const english = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-GB" });
    const page = await english.newPage();
    await page.goto(BASE + "/ui/");
    await page.waitForSelector("[data-testid=signin-sso]");
    observed.buttonEn = (await page.textContent("[data-testid=signin-sso]")).trim();
    await page.screenshot({ path: join(SHOTS, "oidc-01-signin-en.png") });
    await page.click("[data-testid=signin-sso]");
    await throughProvider(page, CONFIG.user);
    await page.waitForSelector("[data-testid=whoami]");
    observed.whoami = (await page.textContent("[data-testid=whoami]")).trim();
    observed.landedOn = new URL(page.url()).pathname;
    await page.screenshot({ path: join(SHOTS, "oidc-02-signed-in.png") });
    await english.close();

    const italian = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "it-IT" });
    const itPage = await italian.newPage();
    await itPage.goto(BASE + "/ui/");
    await itPage.waitForSelector("[data-testid=signin-sso]");
    observed.buttonIt = (await itPage.textContent("[data-testid=signin-sso]")).trim();
    await itPage.click("[data-testid=signin-sso]");
    await throughProvider(itPage, CONFIG.unmapped);
    await itPage.waitForSelector("[data-testid=signin-form]");
    await itPage.waitForFunction(() => document.querySelector("[data-testid=signin-error]").textContent.length > 0);
    observed.unmappedError = (await itPage.textContent("[data-testid=signin-error]")).trim();
    observed.unmappedUrl = itPage.url();
    await itPage.screenshot({ path: join(SHOTS, "oidc-03-unmapped-it.png") });
    await italian.close();
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(observed));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
