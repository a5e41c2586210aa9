import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, isAbsolute, join, sep } from 'node:path';
import { AppError } from '../shared/errors.ts';

/** The FFmpeg command-line tools the engine runs. */
export type MediaTool = 'ffmpeg' | 'ffprobe';

/** Where a tool was found, and by which rule. */
export interface ToolLocation {
  path: string;
  source: 'env' | 'package' | 'path';
}

/** What {@link locateTool} looks at; tests pass their own, the engine uses the process's. */
export interface LocateToolOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Returns the binary shipped in an npm package, or undefined when the package is not installed. */
  packageBinary?: (packageName: string) => string | undefined;
}

const ENV_VARS: Record<MediaTool, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };

// Packages that ship a static build. They are not dependencies today; when one is installed it wins over the
// system's copy so a packaged app behaves the same on every machine.
const PACKAGES: Record<MediaTool, string[]> = {
  ffmpeg: ['@ffmpeg-installer/ffmpeg', 'ffmpeg-static'],
  ffprobe: ['@ffprobe-installer/ffprobe', 'ffprobe-static'],
};

/** Finds a tool without caching: the FFMPEG_PATH/FFPROBE_PATH variable, then an npm-shipped binary, then PATH. */
export async function locateTool(tool: MediaTool, options: LocateToolOptions = {}): Promise<ToolLocation> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const variable = ENV_VARS[tool];
  const fromEnv = env[variable]?.trim();
  if (fromEnv) {
    // A variable someone set on purpose that points nowhere is a mistake to report, not to silently skip.
    if (await isExecutableFile(fromEnv)) return { path: fromEnv, source: 'env' };
    throw new AppError('unsupported-media', `${variable} is set to "${fromEnv}", but there is no runnable ${tool} there. Correct the path or unset ${variable}.`);
  }

  const packageBinary = options.packageBinary ?? requirePackageBinary;
  for (const name of PACKAGES[tool]) {
    const candidate = packageBinary(name);
    if (candidate && (await isExecutableFile(candidate))) return { path: candidate, source: 'package' };
  }

  const fromPath = await searchPath(tool, env, platform);
  if (fromPath) return { path: fromPath, source: 'path' };

  throw new AppError(
    'unsupported-media',
    `${tool} was not found, so videos cannot be read. Install FFmpeg (Debian/Ubuntu: "sudo apt install ffmpeg", macOS: "brew install ffmpeg", Windows: "winget install ffmpeg") or set ${variable} to the full path of ${tool}.`,
  );
}

const cache = new Map<MediaTool, Promise<string>>();

/** The path of ffmpeg, found once per process (see {@link locateTool}). */
export function findFfmpeg(): Promise<string> {
  return findCached('ffmpeg');
}

/** The path of ffprobe, found once per process (see {@link locateTool}). */
export function findFfprobe(): Promise<string> {
  return findCached('ffprobe');
}

/** Forgets the cached paths, so the next lookup searches again (after settings change, and in tests). */
export function clearToolPathCache(): void {
  cache.clear();
}

function findCached(tool: MediaTool): Promise<string> {
  let found = cache.get(tool);
  if (!found) {
    found = locateTool(tool).then((location) => location.path);
    // Only successes are kept: a user who installs FFmpeg after a failure should not need a restart.
    found.catch(() => cache.delete(tool));
    cache.set(tool, found);
  }
  return found;
}

function requirePackageBinary(packageName: string): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const exported: unknown = require(packageName);
    const path = typeof exported === 'string' ? exported : (exported as { path?: unknown } | null)?.path;
    if (typeof path !== 'string' || path === '') return undefined;
    // Inside a packaged Electron app the binary is unpacked beside the asar archive, which cannot be executed from.
    return path.replace(`app.asar${sep}`, `app.asar.unpacked${sep}`);
  } catch {
    return undefined;
  }
}

async function searchPath(tool: MediaTool, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): Promise<string | undefined> {
  const pathValue = readEnv(env, 'PATH', platform) ?? '';
  const separator = platform === 'win32' ? ';' : delimiter;
  const extensions =
    platform === 'win32' ? (readEnv(env, 'PATHEXT', platform) ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean) : [''];
  for (const dir of pathValue.split(separator)) {
    // Relative PATH entries would make the result depend on the working directory.
    if (!dir || !isAbsolute(dir)) continue;
    for (const ext of extensions) {
      const candidate = join(dir, tool + ext.toLowerCase());
      if (await isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

function readEnv(env: NodeJS.ProcessEnv, name: string, platform: NodeJS.Platform): string | undefined {
  if (platform !== 'win32') return env[name];
  // Windows variable names are case-insensitive ("Path"), but a plain object passed in is not.
  const key = Object.keys(env).find((candidate) => candidate.toUpperCase() === name);
  return key === undefined ? undefined : env[key];
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
