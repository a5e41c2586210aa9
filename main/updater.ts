import { dialog, type BrowserWindow } from 'electron';
import { autoUpdater } from 'electron-updater';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { feedFromEnvironment, readUpdateConfig, UPDATER_SETTINGS, updateConfigProblem, UpdatePolicy, verifiedOn } from '../app/desktop/update-policy.ts';
import type { Logger } from '../app/log/logger.ts';

/** Options of {@link createUpdater}. */
export interface UpdaterOptions {
  version: string;
  packaged: boolean;
  resourcesPath: string;
  window: () => BrowserWindow | null;
  log: Logger;
}

/** The app's updater: `check(true)` is the menu's "Check for Updates…", `check(false)` the quiet one at start. */
export interface Updater {
  check(interactive: boolean): Promise<void>;
}

/** Wires electron-updater to the policy in app/desktop/update-policy.ts: ask, download, verify, ask, install. */
export function createUpdater(options: UpdaterOptions): Updater {
  const policy = new UpdatePolicy(options.version);
  const { log } = options;
  let interactive = false;
  let configured: Promise<string | null> | null = null;
  Object.assign(autoUpdater, UPDATER_SETTINGS);
  autoUpdater.logger = { info: (message?: unknown) => log.info(String(message)), warn: (message?: unknown) => log.warn(String(message)), error: (message?: unknown) => log.error(String(message)) };

  const ask = async (message: string, detail: string, yes: string, no: string): Promise<boolean> => {
    const window = options.window();
    const settings = { type: 'question' as const, message, detail, buttons: [yes, no], defaultId: 0, cancelId: 1 };
    const answer = window ? await dialog.showMessageBox(window, settings) : await dialog.showMessageBox(settings);
    return answer.response === 0;
  };
  const tell = (message: string, detail = ''): void => {
    const window = options.window();
    const settings = { type: 'info' as const, message, detail };
    void (window ? dialog.showMessageBox(window, settings) : dialog.showMessageBox(settings));
  };

  /** Null when updates may run, else the sentence saying why not. */
  const configure = async (): Promise<string | null> => {
    if (!options.packaged) return 'Updates are checked by the installed app only.';
    try {
      const feed = feedFromEnvironment(process.env);
      if (feed) autoUpdater.setFeedURL(feed);
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
    const text = await readFile(path.join(options.resourcesPath, 'app-update.yml'), 'utf8').catch(() => null);
    const config = text === null ? null : readUpdateConfig(text);
    const problem = updateConfigProblem(process.platform, config);
    if (problem) return problem;
    if (config && typeof config.url === 'string' && !config.url.startsWith('https://')) return 'This build’s update feed is not HTTPS, so it is not used.';
    return null;
  };

  autoUpdater.on('update-available', (info) => {
    const decision = policy.found(info.version);
    if (decision.action === 'ignore') return log.info('update ignored', { version: info.version, reason: decision.reason });
    void ask(`Keepsake ${info.version} is available.`, `You have ${options.version}. Download it now? You choose when to restart.`, 'Download', 'Later').then((yes) => {
      const next = policy.downloadAnswered(info.version, yes);
      if (next.action === 'download') void autoUpdater.downloadUpdate().catch((error: unknown) => log.warn('update download failed', { error }));
    });
  });
  autoUpdater.on('update-not-available', () => {
    if (interactive) tell(`Keepsake ${options.version} is the latest version.`);
  });
  // electron-updater emits this only after the file's SHA-512 matched latest.yml (and, on Windows, its signer the
  // publisherName); anything else ends in 'error' and the policy forgets the download.
  autoUpdater.on('update-downloaded', (event) => {
    const decision = policy.downloaded(event.version);
    if (decision.action === 'ignore') return log.warn('downloaded update refused', { version: event.version, reason: decision.reason });
    void ask(`Keepsake ${event.version} is ready.`, `${verifiedOn(process.platform).join('\n')}\n\nRestart now to install it?`, 'Restart now', 'Later').then((yes) => {
      if (policy.installAnswered(event.version, yes).action === 'install') autoUpdater.quitAndInstall(false, true);
    });
  });
  autoUpdater.on('error', (error) => {
    policy.failed();
    log.warn('update failed', { error });
    if (interactive) tell('Keepsake could not check for updates.', 'Check the network connection and try again later.');
  });

  return {
    async check(asked) {
      interactive = asked;
      configured ??= configure();
      const problem = await configured;
      if (problem) {
        log.info('updates off', { reason: problem });
        if (asked) tell('Updates are not available.', problem);
        return;
      }
      await autoUpdater.checkForUpdates().catch((error: unknown) => log.warn('update check failed', { error }));
    },
  };
}
