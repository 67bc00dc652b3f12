// OpenID Connect sign-in in the browser: the sign-in page's "Sign in with …" button (English
// and Italian), the provider's own login form, back to the console signed in; an unmapped
// user comes back to the sign-in page with the reason, in Italian. Signing out goes through
// the provider's sign-out page and back to the sign-in page; the provider then asks for a
// login again. An admin from the provider sees on the Users page who signs in how, and no
// password reset for provider-only users (English and Italian).
// Called by tests/e2e/test_oidc.py.
// Input: env SENTINELLA_URL, SCREENSHOTS, CONSOLE_CONFIG ({provider: display name,
// user: a mapped account, unmapped: an account without role, admin: an admin account}).
// Output: one JSON line on stdout with what was observed; exit 1 with a message on failure.
import { BASE, SHOTS, CONFIG, launchChromium } from "./harness.mjs";
import { join } from "node:path";

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

// Signs `login` (an admin at the provider) in, opens the Users page, returns its rows.
async function usersPage(browser, locale, login) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale });
  const page = await context.newPage();
  await page.goto(BASE + "/ui/");
  await page.click("[data-testid=signin-sso]");
  await throughProvider(page, login);
  // The language is the user's, saved at their first sign-in: choose it.
  await page.waitForSelector("[data-testid=language]");
  await page.selectOption("[data-testid=language]", locale.slice(0, 2));
  await page.waitForSelector("[data-nav=users]");
  await page.click("[data-nav=users]");
  await page.waitForSelector("[data-testid=user-row]");
  const header = await page.$$eval("[data-testid=users-table] th", (cells) => cells.map((c) => c.textContent));
  const rows = await page.$$eval("[data-testid=user-row]", (rows) => rows.map((row) => ({
    name: row.cells[0].textContent,
    signIn: row.querySelector("[data-testid=user-signin]").textContent,
    resetOffered: !!row.querySelector("input[type=password]"),
    note: (row.querySelector("[data-testid=user-no-password]") || { textContent: null }).textContent,
    roleNote: (row.querySelector("[data-testid=user-role-note]") || { textContent: null }).textContent,
  })));
  await page.screenshot({ path: join(SHOTS, `oidc-04-users-${locale}.png`) });
  await context.close();
  return { header, rows };
}

async function main() {
  const browser = await launchChromium();
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
    await page.click("[data-testid=signout]");
    await page.waitForSelector("button[name=logout][value=yes]");
    observed.providerSignOutHost = new URL(page.url()).host;
    await page.click("button[name=logout][value=yes]");
    await page.waitForSelector("[data-testid=signin-sso]");
    observed.afterSignOut = new URL(page.url()).pathname;
    await page.click("[data-testid=signin-sso]");
    await page.waitForSelector("input[name=login]");
    observed.loginAskedAgain = true;
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

    if (CONFIG.admin) {
      observed.usersEn = await usersPage(browser, "en-GB", CONFIG.admin);
      observed.usersIt = await usersPage(browser, "it-IT", CONFIG.admin);
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(observed));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
