/// <reference lib="dom" />
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, chromiumPath } from '../test/browser.ts';
import { startIdentityProvider, startSyncService, type IdentityProvider, type SyncServiceProcess } from '../test/sync-service.ts';
import { openUi, type UiSession } from '../test/ui.ts';

// Signing the desktop in with the school's account, as the office does it: Settings → "Sign in with your school
// account" → a new browser tab at the school's identity provider → log in there → the tab lands on the desktop's
// loopback page ("Signed in to Keepsake") → back in the app, signed in as that staff member, the school linked.

let browser: Browser;
let idp: IdentityProvider;
let service: SyncServiceProcess;
let ui: UiSession;

beforeAll(async () => {
  idp = await startIdentityProvider({ 'idp-office': { email: 'office@greenfield.example', email_verified: true } });
  [browser, service] = await Promise.all([
    // The test provider's certificate is self-signed; every other page here is plain http on loopback.
    chromium.launch({ executablePath: chromiumPath(), headless: true, args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--ignore-certificate-errors'] }),
    startSyncService({ oidc: idp }),
  ]);
  ui = await openUi({ suite: 'desktop', browser });
}, 180_000);

afterAll(async () => {
  await ui?.close();
  await browser?.close();
  await service?.stop();
  await idp?.close();
});

describe('signing in with the school account', () => {
  it('goes through the provider in a new tab and comes back signed in, the school linked', async () => {
    const { page, context } = ui;
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('form', { name: 'Sign in to the sync service' }).getByLabel('Sync service URL').fill(service.base);
    const form = page.getByRole('form', { name: 'Sign in with your school account' });
    await form.getByLabel('School (its short name)').fill('greenfield');
    await ui.screenshot('oidc-sign-in');
    const tab = context.waitForEvent('page');
    await form.getByRole('button', { name: 'Sign in with your school account' }).click();
    const provider = await tab;

    // The app waits, with the link to open by hand should no tab have opened.
    const waiting = page.getByRole('region', { name: 'Signing in with your school account' });
    await waiting.getByText('Finish signing in in your browser…').waitFor();
    const link = await waiting.getByLabel(/open this link yourself/).inputValue();
    expect(link.startsWith(`${service.base}/v1/auth/oidc/start?`)).toBe(true);
    await ui.screenshot('oidc-waiting');

    // The provider's own login page, in the new tab.
    await provider.locator('input[name="login"]').waitFor({ timeout: 30_000 });
    expect(provider.url().startsWith(`${idp.issuer}/`)).toBe(true);
    await provider.screenshot({ path: artifactPath('desktop', 'oidc-provider-login') });
    await provider.locator('input[name="login"]').fill('idp-office');
    await provider.locator('input[name="password"]').fill('anything');
    await provider.locator('button[type="submit"]').click();
    await provider.getByRole('heading', { name: 'Signed in to Keepsake' }).waitFor({ timeout: 30_000 });
    expect(await provider.getByText('You can close this tab and go back to the app.').isVisible()).toBe(true);
    expect(new URL(provider.url()).hostname).toBe('127.0.0.1');
    expect(new URL(provider.url()).pathname).toBe('/callback');
    await provider.screenshot({ path: artifactPath('desktop', 'oidc-loopback-signed-in') });

    // Back in the app.
    await page.getByText('This library publishes for Greenfield Primary.', { exact: true }).waitFor({ timeout: 30_000 });
    const signedIn = page.locator('.sync-signed-in');
    expect(await signedIn.textContent()).toContain(`Signed in to ${service.base} as office@greenfield.example`);
    expect(await signedIn.textContent()).toContain('admin of Greenfield Primary');
    expect(await page.getByRole('region', { name: 'Signing in with your school account' }).count()).toBe(0);
    await ui.screenshot('oidc-signed-in');

    // The session is the engine's; nothing secret reached the page, and the loopback listener is gone.
    expect(await page.content()).not.toMatch(/refreshToken|accessToken/);
    expect(await fetch(provider.url()).then(() => 'answered', () => 'closed')).toBe('closed');
    await provider.close();
  }, 180_000);
});
