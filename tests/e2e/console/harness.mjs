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
