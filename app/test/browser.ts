/**
 * A real browser for the tests of every page: Debian's Chromium (installed by `scripts/setup.sh`)
 * driven by playwright-core. Never skipped: a missing browser fails the test with how to install it.
 * Screenshots go to `test-artifacts/` at the repository root, where CI keeps them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Where screenshots are written; one folder per suite. */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The browser executable, or an error saying how to get one. */
export function chromiumPath(): string {
  const found = CANDIDATES.find((candidate): candidate is string => candidate !== undefined && candidate !== '' && fs.existsSync(candidate));
  if (found === undefined) throw new Error('No Chromium found: run scripts/setup.sh (it installs Debian\'s chromium), or set CHROMIUM_PATH.');
  return found;
}

/** A headless Chromium; close it in `afterAll`. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in a container has no user namespaces for Chromium's sandbox; the pages under test are our own.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

/** `test-artifacts/<suite>/<name>.png`, creating the folder. */
export function artifactPath(suite: string, name: string): string {
  const dir = path.join(ARTIFACTS_DIR, suite);
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}
