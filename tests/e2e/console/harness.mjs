// What every browser test of the console shares: its inputs from the environment (set by
// the pytest file that drives it), Debian's Chromium started the way this machine needs
// (no sandbox as root, no background networking: the network is closed), and small checks.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const BASE = process.env.SENTINELLA_URL;
export const SHOTS = process.env.SCREENSHOTS;
export const CONFIG = JSON.parse(process.env.CONSOLE_CONFIG ?? "{}");
mkdirSync(SHOTS, { recursive: true });

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, name + ".png"), fullPage: false });
}

export function launchChromium() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// Signs in through the console's form (the caller waits for what should follow).
export async function signIn(page, user, password) {
  await page.goto(BASE + "/ui/");
  await page.waitForSelector("[data-testid=signin-form]");
  await page.fill("input[name=user]", user);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
}

// The first admin sign-in of a fresh server: the one-time password must be changed to
// CONFIG.adminPassword, then the admin signs in again with it.
export async function firstAdminSignIn(page) {
  await signIn(page, "admin", CONFIG.adminOneTime);
  await page.waitForSelector("input[name=new]");
  await page.fill("input[name=current]", CONFIG.adminOneTime);
  await page.fill("input[name=new]", CONFIG.adminPassword);
  await page.fill("input[name=repeat]", CONFIG.adminPassword);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=signin-form]");
  await signIn(page, "admin", CONFIG.adminPassword);
  await page.waitForSelector("[data-testid=whoami]");
}

// The Phishing page's newest report, opened until `selector` shows in its analysis.
export async function openNewestReport(page, selector) {
  await page.click("[data-nav=phishing]");
  await page.waitForSelector("[data-testid=phish-row]");
  await page.click("[data-testid=phish-row] >> nth=0");
  await page.waitForSelector("[data-testid=phish-analysis]");
  await page.waitForSelector(selector);
}
