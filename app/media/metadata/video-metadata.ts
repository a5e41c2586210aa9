import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { AppError, toAppError } from '../../shared/errors.ts';
import { clearToolPathCache, findFfprobe } from '../ffmpeg-path.ts';
import type { MediaMetadata } from './metadata.types.ts';

/** Options for {@link readVideoMetadata}. */
export interface ReadVideoOptions {
  signal?: AbortSignal;
  /** How long ffprobe may run before it is killed; default 15 s (slow network shares and USB 2 card readers). */
  timeoutMs?: number;
}

/** Default bound on one ffprobe run. */
export const VIDEO_PROBE_TIMEOUT_MS = 15_000;

/** The parts of `ffprobe -print_format json -show_format -show_streams` this module reads. */
export interface FfprobeOutput {
  format?: { duration?: string; tags?: Record<string, string> };
  streams?: FfprobeStream[];
}

/** One stream in {@link FfprobeOutput}. */
export interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  duration?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
  side_data_list?: Array<{ side_data_type?: string; rotation?: number }>;
}

/**
 * Reads a video's duration, displayed size and rotation, capture time, camera, position and codecs through
 * ffprobe. A file ffprobe cannot read is `corrupt-media`, with ffprobe's reason in plain words.
 */
export async function readVideoMetadata(path: string, options: ReadVideoOptions = {}): Promise<MediaMetadata> {
  const name = basename(path);
  if (options.signal?.aborted) throw cancelled(name);
  await checkFile(path, name);
  const ffprobe = await findFfprobe();
  // "file:" makes ffprobe treat names such as "http:x.mp4" or "concat:a|b.mp4" as files, and the whitelist
  // stops a crafted playlist or reference movie from opening anything else.
  const args = [
    '-v', 'error',
    '-protocol_whitelist', 'file',
    '-print_format', 'json',
    '-show_format',
    '-show_streams',
    `file:${resolve(path)}`,
  ];
  const timeoutMs = options.timeoutMs ?? VIDEO_PROBE_TIMEOUT_MS;
  const { stdout } = await runFfprobe(ffprobe, args, timeoutMs, options.signal, name);
  let parsed: FfprobeOutput;
  try {
    parsed = JSON.parse(stdout) as FfprobeOutput;
  } catch (error) {
    throw new AppError('corrupt-media', `Could not read the video "${name}": ffprobe's report was not valid JSON.`, { cause: error });
  }
  return fromFfprobe(parsed, name);
}

/** Maps ffprobe's JSON report to {@link MediaMetadata}; `name` appears in errors. */
export function fromFfprobe(report: FfprobeOutput, name: string): MediaMetadata {
  const streams = report.streams ?? [];
  // Cover art in an MP4 is a video stream too; it is marked as an attached picture.
  const video = streams.find((stream) => stream.codec_type === 'video' && stream.disposition?.attached_pic !== 1);
  const audio = streams.find((stream) => stream.codec_type === 'audio');
  if (!video) throw new AppError('unsupported-media', `"${name}" contains no video stream.`);
  const formatTags = report.format?.tags ?? {};
  const tags = (...keys: string[]): string | undefined => tag(formatTags, keys) ?? tag(video.tags ?? {}, keys);

  const result: MediaMetadata = {};
  const duration = toSeconds(report.format?.duration) ?? toSeconds(video.duration) ?? toSeconds(tag(video.tags ?? {}, ['DURATION']));
  if (duration !== undefined) result.durationSec = duration;

  const rotation = rotationOf(video);
  result.rotation = rotation;
  if (video.width && video.height) {
    // Anamorphic footage (1440×1080 AVCHD with 4:3 pixels) is shown wider than it is stored.
    const width = Math.round(video.width * pixelAspect(video.sample_aspect_ratio));
    const [displayWidth, displayHeight] = rotation === 90 || rotation === 270 ? [video.height, width] : [width, video.height];
    result.width = displayWidth;
    result.height = displayHeight;
  }

  const time = captureTime(tags('com.apple.quicktime.creationdate'), tags('creation_time', 'date'));
  if (time) {
    result.capturedAt = time.capturedAt;
    if (time.offsetMin !== undefined) result.captureOffsetMin = time.offsetMin;
  }

  const make = tags('com.apple.quicktime.make', 'com.android.manufacturer', 'make');
  if (make) result.cameraMake = make;
  const model = tags('com.apple.quicktime.model', 'com.android.model', 'model');
  if (model) result.cameraModel = model;

  const location = tags('com.apple.quicktime.location.ISO6709', 'location', 'location-eng');
  const gps = location ? parseIso6709(location) : undefined;
  if (gps) result.gps = gps;

  if (video.codec_name) result.videoCodec = video.codec_name;
  if (audio?.codec_name) result.audioCodec = audio.codec_name;
  return result;
}

/**
 * Parses an ISO 6709 position (`+48.8584+002.2945+035.000/`, also the DDMM and DDMMSS forms) as phones write
 * it into QuickTime and MP4 files; undefined when it is not one.
 */
export function parseIso6709(text: string): MediaMetadata['gps'] {
  const match = /^([+-])(\d{2}(?:\d{2}){0,2}(?:\.\d+)?)([+-])(\d{3}(?:\d{2}){0,2}(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?(?:CRS[^/]*)?\/?$/.exec(text.trim());
  if (!match) return undefined;
  const [, latSign, latText, lonSign, lonText, altText] = match;
  const latitude = sexagesimal(latText ?? '', 2) * (latSign === '-' ? -1 : 1);
  const longitude = sexagesimal(lonText ?? '', 3) * (lonSign === '-' ? -1 : 1);
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return undefined;
  if (latitude === 0 && longitude === 0) return undefined;
  const gps: NonNullable<MediaMetadata['gps']> = { latitude, longitude };
  if (altText !== undefined) gps.altitude = Number(altText);
  return gps;
}

// "4851.504" with 2 degree digits is 48°51.504′; "485130.24" is 48°51′30.24″.
function sexagesimal(text: string, degreeDigits: number): number {
  const [whole = '', fraction = ''] = text.split('.');
  const rest = whole.length - degreeDigits;
  const value = (digits: string): number => Number(fraction ? `${digits}.${fraction}` : digits);
  if (rest === 0) return value(whole);
  const degrees = Number(whole.slice(0, degreeDigits));
  if (rest === 2) return degrees + value(whole.slice(degreeDigits)) / 60;
  return degrees + Number(whole.slice(degreeDigits, degreeDigits + 2)) / 60 + value(whole.slice(degreeDigits + 2)) / 3600;
}

function rotationOf(video: FfprobeStream): number {
  // ffprobe reports the display matrix counter-clockwise (-90 for a phone held upright); the legacy `rotate`
  // tag and what people mean by "rotated 90°" are clockwise.
  const matrix = video.side_data_list?.find((data) => data.side_data_type === 'Display Matrix' && typeof data.rotation === 'number');
  if (matrix?.rotation !== undefined) return normaliseDegrees(-matrix.rotation);
  const legacy = Number(tag(video.tags ?? {}, ['rotate']));
  return Number.isFinite(legacy) ? normaliseDegrees(legacy) : 0;
}

function normaliseDegrees(degrees: number): number {
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

function pixelAspect(ratio: string | undefined): number {
  const match = /^(\d+):(\d+)$/.exec(ratio ?? '');
  const aspect = match ? Number(match[1]) / Number(match[2]) : 1;
  // 0:1 means "unknown"; absurd values come from broken headers.
  return Number.isFinite(aspect) && aspect >= 0.25 && aspect <= 4 ? aspect : 1;
}

function captureTime(appleDate: string | undefined, utcDate: string | undefined): { capturedAt: string; offsetMin?: number } | undefined {
  // The iPhone's key carries the local time and its offset; creation_time is UTC (cameras that write local
  // time there cannot be told apart).
  if (appleDate) {
    const apple = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(appleDate.trim());
    if (apple?.[1]) {
      const offset = apple[2];
      if (offset === undefined) return { capturedAt: apple[1] };
      const offsetMin = offset === 'Z' ? 0 : parseOffset(offset);
      if (offsetMin !== undefined) return { capturedAt: apple[1] + formatOffset(offsetMin), offsetMin };
    }
  }
  if (utcDate) {
    const date = new Date(utcDate.trim().replace(' ', 'T').replace(/(\d)$/, '$1Z'));
    // 1904 and 1970 are the QuickTime and Unix epochs: a zero written by a camera without a clock.
    if (Number.isFinite(date.getTime()) && date.getUTCFullYear() > 1970) {
      return { capturedAt: date.toISOString().replace(/\.000Z$/, '+00:00').replace(/Z$/, '+00:00'), offsetMin: 0 };
    }
  }
  return undefined;
}

function parseOffset(text: string): number | undefined {
  const match = /^([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

function formatOffset(minutes: number): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function toSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // Matroska writes DURATION as "00:00:02.000000000".
  const clock = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value);
  const seconds = clock ? Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3]) : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

// Tag names differ in case between containers (Matroska upper-cases them).
function tag(tags: Record<string, string>, keys: string[]): string | undefined {
  for (const key of keys) {
    const found = Object.keys(tags).find((candidate) => candidate.toLowerCase() === key.toLowerCase());
    const value = found === undefined ? undefined : tags[found]?.trim();
    if (value) return value;
  }
  return undefined;
}

async function checkFile(path: string, name: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw toAppError(error, `Reading "${name}"`);
  }
  if (!info.isFile()) throw new AppError('invalid-input', `"${name}" is not a file.`);
  if (info.size === 0) throw new AppError('corrupt-media', `"${name}" is empty (0 bytes); the copy may have been interrupted.`);
}

function runFfprobe(ffprobe: string, args: string[], timeoutMs: number, signal: AbortSignal | undefined, name: string): Promise<{ stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      ffprobe,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024, windowsHide: true, encoding: 'utf8', signal },
      (error, stdout, stderr) => {
        if (!error) return resolvePromise({ stdout });
        if (signal?.aborted) return reject(cancelled(name));
        const failure = error as NodeJS.ErrnoException & { killed?: boolean };
        if (failure.code === 'ENOENT' || failure.code === 'EACCES') {
          // The binary found earlier has gone (an uninstall, a moved portable copy): look again next time.
          clearToolPathCache();
          return reject(new AppError('unsupported-media', `ffprobe could not be started from "${ffprobe}" (${failure.code}); reinstall FFmpeg or set FFPROBE_PATH.`, { cause: error }));
        }
        if (failure.killed) {
          return reject(new AppError('corrupt-media', `Could not read the video "${name}": ffprobe gave up after ${timeoutMs / 1000} s, so the file is probably damaged.`, { cause: error }));
        }
        const reason = plainReason(stderr);
        const code = /No such file or directory/i.test(stderr) ? 'not-found' : /Permission denied/i.test(stderr) ? 'io' : 'corrupt-media';
        reject(new AppError(code, `Could not read the video "${name}": ${reason}.`, { cause: error }));
      },
    );
  });
}

const EXPLANATIONS: Array<[RegExp, string]> = [
  [/moov atom not found/i, 'moov atom not found: the file is incomplete, as happens when a recording or a copy is interrupted'],
  [/Invalid data found when processing input/i, 'Invalid data found when processing input: it is not a video format ffprobe knows, or it is damaged'],
  [/No such file or directory/i, 'the file does not exist (was the drive removed?)'],
  [/Permission denied/i, 'permission denied'],
];

function plainReason(stderr: string): string {
  for (const [pattern, explanation] of EXPLANATIONS) if (pattern.test(stderr)) return explanation;
  // Drop "[mov,mp4 @ 0x…]" and "file:/path:" prefixes, which say nothing to the reader.
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '').replace(/^file:.*?:\s(?=\S)/, '').trim())
    .filter((line) => line !== '');
  return [...new Set(lines)].slice(-2).join('; ') || 'ffprobe failed without saying why';
}

function cancelled(name: string): AppError {
  return new AppError('cancelled', `Reading the video "${name}" was cancelled.`);
}
