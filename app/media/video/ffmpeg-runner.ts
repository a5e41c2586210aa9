import ffmpeg from 'fluent-ffmpeg';
import { AppError, type ErrorCode } from '../../shared/errors.ts';
import { clearToolPathCache, findFfmpeg } from '../ffmpeg-path.ts';

/** One ffmpeg run: the options before the input, the input, the options after it, the output. */
export interface FfmpegSpec {
  inputOptions: readonly string[];
  input: string;
  outputOptions: readonly string[];
  output: string;
}

/** The argument list ffmpeg is started with for `spec`: what fluent-ffmpeg builds, and what a CLI run would pass. */
export function ffmpegArgs(spec: FfmpegSpec): string[] {
  return [...spec.inputOptions, '-i', spec.input, ...spec.outputOptions, spec.output];
}

/** How {@link runFfmpeg} runs, stops and reports one ffmpeg process. */
export interface RunFfmpegOptions {
  /** What is being made, for messages: `the proxy of "clip.mp4"`. */
  subject: string;
  signal?: AbortSignal;
  /** Hard wall-clock limit; on expiry ffmpeg is killed and the run fails with `corrupt-media`. */
  timeoutMs: number;
  /**
   * Kills ffmpeg when its reported position has not moved for this long (the spec must ask for `-stats`):
   * a decoder looping on a damaged file is stopped in minutes, not at a timeout sized for hours of video.
   */
  stallMs?: number;
  /**
   * Once ffmpeg reports this position the stall check ends: the MP4 muxer's faststart pass then rewrites the
   * whole file without printing anything, which takes minutes for a long proxy on a slow disk.
   */
  stallCheckUntilSec?: number;
  /** ffmpeg's position in the output, in seconds, as it reports it (about twice a second with `-stats`). */
  onTime?: (seconds: number) => void;
}

/** What a finished run printed: its messages (progress lines left out) and the last position it reported. */
export interface FfmpegOutcome {
  messages: string[];
  lastTimeSec: number | undefined;
}

const MESSAGE_LINES_KEPT = 40;
const STALL_CHECK_MS = 1_000;

/**
 * Runs ffmpeg through fluent-ffmpeg (an argument array, never a shell) and settles only once the process has
 * exited, so a caller that removes files afterwards never races a still-writing ffmpeg. Abort, the timeout and
 * a stall kill it with SIGKILL; every failure is an {@link AppError} whose message says what went wrong.
 */
export async function runFfmpeg(spec: FfmpegSpec, options: RunFfmpegOptions): Promise<FfmpegOutcome> {
  const { signal, subject } = options;
  if (signal?.aborted) throw cancelledError(subject);
  const binary = await findFfmpeg();
  if (signal?.aborted) throw cancelledError(subject);

  return new Promise<FfmpegOutcome>((resolve, reject) => {
    const messages: string[] = [];
    let lastTimeSec: number | undefined;
    let lastProgressKey = '';
    let lastActivity = Date.now();
    let started = false;
    let stopReason: 'cancelled' | 'timeout' | 'stall' | undefined;

    // fluent-ffmpeg keeps the binary's path in a module-wide cache; setting it on every run follows the engine's
    // own lookup (FFMPEG_PATH, a shipped binary, PATH) even after that lookup has been cleared and redone.
    const command = ffmpeg().setFfmpegPath(binary).input(spec.input).output(spec.output);
    // Passed as separate arguments (always more than one), so fluent-ffmpeg never splits a value at a space.
    command.inputOptions(...spec.inputOptions);
    command.outputOptions(...spec.outputOptions);

    let settled = false;
    const stop = (reason: NonNullable<typeof stopReason>): void => {
      if (stopReason) return;
      stopReason = reason;
      if (started) {
        command.kill('SIGKILL');
        return;
      }
      // Still preparing (fluent-ffmpeg's one-off capability probe): nothing writes yet, so fail now rather than
      // wait on a probe that may itself hang; the 'start' handler kills the process should one still appear.
      settle();
      reject(stoppedError(reason, subject, options));
    };
    const onAbort = (): void => stop('cancelled');
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
    const { stallMs, stallCheckUntilSec } = options;
    const checkStall = (): void => {
      if (stallMs === undefined) return;
      const finishing = stallCheckUntilSec !== undefined && lastTimeSec !== undefined && lastTimeSec >= stallCheckUntilSec;
      if (!finishing && Date.now() - lastActivity > stallMs) stop('stall');
    };
    const stallTimer = stallMs === undefined ? undefined : setInterval(checkStall, Math.min(STALL_CHECK_MS, stallMs));

    function settle(): void {
      settled = true;
      clearTimeout(timer);
      if (stallTimer) clearInterval(stallTimer);
      signal?.removeEventListener('abort', onAbort);
    }

    command.on('start', () => {
      started = true;
      lastActivity = Date.now();
      // Stopped while fluent-ffmpeg was still preparing: the process exists only now.
      if (stopReason) command.kill('SIGKILL');
    });
    command.on('stderr', (line: string) => {
      if (/^\s*(?:frame|size)=/.test(line)) {
        // Progress, about twice a second. Any change but the rates and the clock (fps, bitrate, speed, and
        // ffmpeg 7's elapsed) is life: frames counted before the first output, a growing size, a later time.
        const key = line.replace(/\b(?:fps|speed|bitrate|elapsed)=\s*\S+/g, '');
        if (key !== lastProgressKey) {
          lastProgressKey = key;
          lastActivity = Date.now();
        }
        const time = /\btime=(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(line);
        if (time) {
          lastTimeSec = time[1] === '-' ? 0 : Number(time[2]) * 3600 + Number(time[3]) * 60 + Number(time[4]);
          options.onTime?.(lastTimeSec);
        }
        return;
      }
      if (line.trim() === '') return;
      messages.push(line);
      if (messages.length > MESSAGE_LINES_KEPT) messages.shift();
    });
    command.on('end', () => {
      if (settled) return;
      settle();
      if (stopReason) reject(stoppedError(stopReason, subject, options));
      else if (signal?.aborted) reject(cancelledError(subject));
      else resolve({ messages, lastTimeSec });
    });
    command.on('error', (error: Error) => {
      if (settled) return;
      settle();
      if (stopReason) reject(stoppedError(stopReason, subject, options, error));
      else if (signal?.aborted) reject(cancelledError(subject));
      else reject(ffmpegFailure(error, messages, binary, subject));
    });
    command.run();
  });
}

/** The error for an aborted run. */
export function cancelledError(subject: string): AppError {
  return new AppError('cancelled', `Making ${subject} was cancelled.`);
}

function stoppedError(reason: 'cancelled' | 'timeout' | 'stall', subject: string, options: RunFfmpegOptions, cause?: unknown): AppError {
  if (reason === 'cancelled') return new AppError('cancelled', `Making ${subject} was cancelled.`, { cause });
  if (reason === 'timeout') {
    return new AppError(
      'corrupt-media',
      `Making ${subject} took longer than ${formatSeconds(options.timeoutMs)}, so ffmpeg was stopped: the file is probably damaged (or the computer was too busy; try again later).`,
      { cause },
    );
  }
  return new AppError(
    'corrupt-media',
    `Making ${subject} was stopped because ffmpeg made no progress for ${formatSeconds(options.stallMs ?? 0)}: the file is probably damaged, or the drive it is on stopped answering.`,
    { cause },
  );
}

const EXPLANATIONS: Array<{ pattern: RegExp; code: ErrorCode; text: string }> = [
  { pattern: /No space left on device|Disk quota exceeded/i, code: 'disk-full', text: 'the disk is full' },
  { pattern: /moov atom not found/i, code: 'corrupt-media', text: 'the file is incomplete (its index, the moov atom, is missing), as happens when a recording or a copy is interrupted' },
  { pattern: /Format not on whitelist/i, code: 'unsupported-media', text: 'it is not a video container Keepsake reads (MP4, MOV, MTS, AVI, MKV, MPEG, WMV…)' },
  { pattern: /Protocol not on whitelist|Protocol '[^']*' not on whitelist/i, code: 'unsupported-media', text: 'it refers to other files or network addresses, which are not followed' },
  { pattern: /Decoder \(codec [^)]*\) not found|Decoding requested, but no decoder found|Unknown decoder/i, code: 'unsupported-media', text: 'this copy of FFmpeg cannot decode its video or audio format' },
  { pattern: /does not contain any stream|Stream map '[^']*' matches no streams/i, code: 'unsupported-media', text: 'it contains no video picture' },
  { pattern: /Invalid data found when processing input/i, code: 'corrupt-media', text: 'it is not a video format FFmpeg knows, or it is damaged' },
  { pattern: /Permission denied/i, code: 'io', text: 'permission was denied' },
  { pattern: /No such file or directory/i, code: 'not-found', text: 'the file does not exist (was the drive removed?)' },
  { pattern: /Input\/output error/i, code: 'io', text: 'the drive reported a read/write error (is it failing, or was it unplugged?)' },
];

function ffmpegFailure(error: Error, messages: readonly string[], binary: string, subject: string): AppError {
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT' || errno === 'EACCES' || /Cannot find ffmpeg/.test(error.message)) {
    // The binary found earlier has gone (an uninstall, a moved portable copy): look again next time.
    clearToolPathCache();
    return new AppError('unsupported-media', `ffmpeg could not be started from "${binary}"${errno ? ` (${errno})` : ''}; reinstall FFmpeg or set FFMPEG_PATH.`, { cause: error });
  }
  // fluent-ffmpeg's own check of the formats this ffmpeg can write, before it starts it.
  if (/ is not available$/.test(error.message)) {
    return new AppError('unsupported-media', `Could not make ${subject}: the FFmpeg at "${binary}" lacks what is needed (${error.message}).`, { cause: error });
  }
  const stderr = messages.join('\n');
  const known = EXPLANATIONS.find((entry) => entry.pattern.test(stderr));
  if (known) return new AppError(known.code, `Could not make ${subject}: ${known.text}.`, { cause: error });
  return new AppError('corrupt-media', `Could not make ${subject}: ${plainReason(messages, error)}.`, { cause: error });
}

function plainReason(messages: readonly string[], error: Error): string {
  // Drop "[mov,mp4 @ 0x…]" and "file:/path:" prefixes, which say nothing to the reader.
  const lines = messages
    .map((line) => line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '').replace(/^file:.*?:\s(?=\S)/, '').trim())
    .filter((line) => line !== '');
  const reason = [...new Set(lines)].slice(-2).join('; ');
  return reason || `ffmpeg failed without saying why (${error.message.replace(/:\s*$/, '')})`;
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return seconds >= 1 ? `${Number(seconds.toFixed(1))} s` : `${ms} ms`;
}
