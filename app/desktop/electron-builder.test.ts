import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const CONFIG = fileURLToPath(new URL('../../electron-builder.yml', import.meta.url));

interface BuilderConfig {
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  extraResources: Array<{ from: string; to: string; filter: string[] }>;
  electronFuses: Record<string, boolean>;
  linux: { target: string[] };
  win: { target: string[]; signtoolOptions?: { publisherName?: string } };
  mac: { target: string[]; hardenedRuntime?: boolean };
  publish: Array<Record<string, unknown>>;
}

async function config(): Promise<BuilderConfig> {
  return parse(await readFile(CONFIG, 'utf8')) as BuilderConfig;
}

describe('electron-builder.yml', () => {
  it('builds AppImage, deb, NSIS and dmg (plus the zip macOS updates from)', async () => {
    const { linux, win, mac } = await config();
    expect(linux.target).toEqual(['AppImage', 'deb']);
    expect(win.target).toEqual(['nsis']);
    expect(mac.target).toEqual(['dmg', 'zip']);
    expect(mac.hardenedRuntime).toBe(true);
  });

  it('sets the fuses: no RunAsNode, no NODE_OPTIONS or inspector flags, asar integrity on, app only from asar', async () => {
    expect((await config()).electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  it('ships the platform’s ffmpeg beside the app and unpacks native modules from the archive', async () => {
    const { extraResources, asar, asarUnpack, files } = await config();
    expect(extraResources).toEqual([{ from: 'resources/bin/${os}', to: 'bin', filter: ['ffmpeg*', 'ffprobe*', 'LICENSE*'] }]);
    expect(asar).toBe(true);
    for (const native of ['better-sqlite3', 'sharp', '@img']) expect(asarUnpack).toContain(`node_modules/${native}/**`);
    // The installers' own folder must never be packed into the next installer.
    expect(files).not.toContain('dist/**/*');
    expect(files).toEqual(expect.arrayContaining(['dist/main/**/*', 'dist/preload/**/*', 'dist/engine/**/*', 'renderer/dist/**/*']));
  });

  it('publishes to an HTTPS generic feed from the environment with S3 as the store, and names the Windows publisher', async () => {
    const { publish, win } = await config();
    expect(publish[0]).toEqual({ provider: 'generic', url: '${env.KEEPSAKE_UPDATE_URL}' });
    expect(publish[1]).toMatchObject({ provider: 's3', bucket: '${env.KEEPSAKE_UPDATE_BUCKET}' });
    expect(win.signtoolOptions?.publisherName).toBe('${env.KEEPSAKE_WIN_PUBLISHER}');
  });
});
