import { describe, expect, it } from 'vitest';
import { compareVersions, feedFromEnvironment, readUpdateConfig, UPDATER_SETTINGS, updateConfigProblem, UpdatePolicy, verifiedOn } from './update-policy.ts';

describe(UpdatePolicy.name, () => {
  it('downloads only after the user agrees and installs only the verified download they agreed to', () => {
    const policy = new UpdatePolicy('1.2.0');
    expect(policy.found('1.3.0')).toEqual({ action: 'ask-to-download', version: '1.3.0' });
    expect(policy.installAnswered('1.3.0', true)).toMatchObject({ action: 'ignore' });
    expect(policy.downloaded('1.3.0')).toMatchObject({ action: 'ignore' });
    expect(policy.downloadAnswered('1.3.0', true)).toEqual({ action: 'download', version: '1.3.0' });
    expect(policy.installAnswered('1.3.0', true)).toMatchObject({ action: 'ignore', reason: '1.3.0 has not been downloaded and verified' });
    expect(policy.downloaded('1.3.0')).toEqual({ action: 'ask-to-install', version: '1.3.0' });
    expect(policy.installAnswered('1.3.0', false)).toMatchObject({ action: 'ignore' });
    expect(policy.installAnswered('1.3.0', true)).toEqual({ action: 'install', version: '1.3.0' });
  });

  it('refuses a downgrade, the same version and a pre-release', () => {
    const policy = new UpdatePolicy('1.2.0');
    expect(policy.found('1.1.9')).toMatchObject({ action: 'ignore', reason: '1.1.9 is not newer than 1.2.0' });
    expect(policy.found('1.2.0')).toMatchObject({ action: 'ignore' });
    expect(policy.found('1.3.0-beta.1')).toMatchObject({ action: 'ignore', reason: '1.3.0-beta.1 is a pre-release' });
    expect(policy.found('not-a-version')).toMatchObject({ action: 'ignore' });
    expect(policy.downloadAnswered('1.0.0', true)).toMatchObject({ action: 'ignore' });
  });

  it('never installs a download of another version than the one agreed to', () => {
    const policy = new UpdatePolicy('1.2.0');
    policy.found('1.3.0');
    policy.downloadAnswered('1.3.0', true);
    expect(policy.downloaded('1.4.0')).toMatchObject({ action: 'ignore' });
    expect(policy.installAnswered('1.4.0', true)).toMatchObject({ action: 'ignore' });
  });

  it('forgets an agreed download after an error, so a half-checked file is never installed', () => {
    const policy = new UpdatePolicy('1.2.0');
    policy.found('1.3.0');
    policy.downloadAnswered('1.3.0', true);
    policy.failed();
    expect(policy.downloaded('1.3.0')).toMatchObject({ action: 'ignore' });
    expect(policy.installAnswered('1.3.0', true)).toMatchObject({ action: 'ignore' });
  });
});

describe(compareVersions.name, () => {
  it('orders semantic versions, pre-releases below their release', () => {
    expect(compareVersions('1.10.0', '1.9.9')).toBe(1);
    expect(compareVersions('1.0.0', '1.0.0-rc.1')).toBe(1);
    expect(compareVersions('1.0.0-rc.2', '1.0.0-rc.10')).toBe(-1);
    expect(compareVersions('1.0.0-alpha', '1.0.0-alpha.1')).toBe(-1);
    expect(compareVersions('v2.0.0', '2.0.0')).toBe(0);
    expect(compareVersions('2.0', '1.0.0')).toBeNaN();
  });
});

describe(feedFromEnvironment.name, () => {
  it('takes an HTTPS generic feed or an S3 bucket and refuses anything else', () => {
    expect(feedFromEnvironment({})).toBeNull();
    expect(feedFromEnvironment({ KEEPSAKE_UPDATE_URL: 'https://updates.keepsake.example/desktop' })).toEqual({ provider: 'generic', url: 'https://updates.keepsake.example/desktop' });
    expect(feedFromEnvironment({ KEEPSAKE_UPDATE_S3_BUCKET: 'keepsake-updates', KEEPSAKE_UPDATE_S3_REGION: 'eu-west-1' })).toEqual({ provider: 's3', bucket: 'keepsake-updates', region: 'eu-west-1' });
    expect(() => feedFromEnvironment({ KEEPSAKE_UPDATE_URL: 'http://updates.keepsake.example/' })).toThrow(/only fetched over HTTPS/);
    expect(() => feedFromEnvironment({ KEEPSAKE_UPDATE_URL: 'file:///tmp/feed' })).toThrow(/HTTPS/);
    expect(() => feedFromEnvironment({ KEEPSAKE_UPDATE_URL: 'https://user:pw@updates.example/' })).toThrow(/password/);
    expect(() => feedFromEnvironment({ KEEPSAKE_UPDATE_S3_BUCKET: '../etc' })).toThrow(/bucket/);
  });
});

describe(updateConfigProblem.name, () => {
  it('refuses updates on Windows when the build names no publisher to check the signature against', () => {
    expect(updateConfigProblem('win32', { provider: 'generic', url: 'https://u.example' })).toMatch(/publisher/);
    expect(updateConfigProblem('win32', { provider: 'generic', publisherName: [''] })).toMatch(/publisher/);
    expect(updateConfigProblem('win32', { provider: 'generic', publisherName: ['Greenfield Software Ltd'] })).toBeNull();
    expect(updateConfigProblem('linux', { provider: 'generic' })).toBeNull();
    expect(updateConfigProblem('darwin', null)).toMatch(/no update feed/);
  });
});

describe('UPDATER_SETTINGS', () => {
  it('never downloads, installs on quit, downgrades or takes pre-releases by itself', () => {
    expect(UPDATER_SETTINGS).toMatchObject({ autoDownload: false, autoInstallOnAppQuit: false, allowDowngrade: false, allowPrerelease: false, disableWebInstaller: true });
  });

  it('says what each platform verifies', () => {
    expect(verifiedOn('win32').join(' ')).toMatch(/Authenticode.*publisherName/);
    expect(verifiedOn('darwin').join(' ')).toMatch(/designated requirement/);
    expect(verifiedOn('linux').join(' ')).toMatch(/SHA-512 are the whole check/);
    for (const platform of ['win32', 'darwin', 'linux'] as const) expect(verifiedOn(platform).join(' ')).toMatch(/SHA-512/);
  });
});

describe(readUpdateConfig.name, () => {
  it('reads what electron-builder writes to app-update.yml', () => {
    const text = "provider: generic\nurl: 'https://updates.keepsake.example/desktop'\npublisherName:\n  - Greenfield Software Ltd\nupdaterCacheDirName: keepsake-updater\n";
    const config = readUpdateConfig(text);
    expect(config).toEqual({ provider: 'generic', url: 'https://updates.keepsake.example/desktop', publisherName: ['Greenfield Software Ltd'], updaterCacheDirName: 'keepsake-updater' });
    expect(updateConfigProblem('win32', config)).toBeNull();
    expect(updateConfigProblem('win32', readUpdateConfig('provider: generic\nurl: https://u.example\n'))).toMatch(/publisher/);
  });
});
