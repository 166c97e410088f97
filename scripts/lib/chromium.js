// Headless Chromium for the dashboard's browser test and its screenshots,
// driven by playwright-core. The browser is the system's (the Debian package
// `chromium`, which `npm run setup` installs when run as root), not one
// playwright downloads.
import { existsSync } from 'node:fs';

/** Where Chromium is: `CHROMIUM_PATH`, else the Debian package's executable. */
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Flags for a headless run in a container on a closed network: no sandbox
 * (root in a container has none to give), no GPU, and none of Chromium's
 * own background connections (updates, sync, QUIC probes), which such a
 * network refuses.
 */
export const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

/** Why Chromium cannot be launched and how to fix it, or null when it is there. */
export function chromiumMissing() {
  if (existsSync(chromiumPath)) return null;
  return `no Chromium at ${chromiumPath}: install it (as root: apt-get install -y chromium, or npm run setup), ` +
    'or set CHROMIUM_PATH to a Chromium or Chrome executable';
}

/**
 * Launches headless Chromium.
 * @returns {Promise<import('playwright-core').Browser>}
 * @throws {Error} when Chromium is missing, saying how to install it
 */
export async function launchChromium() {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath, args: [...CHROMIUM_ARGS] });
}
