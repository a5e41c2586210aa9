import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { syncDirectory, tempPathFor } from '../../fs/durable-files.ts';
import { createLogger, type Logger } from '../../log/logger.ts';
import { AppError, toAppError } from '../../shared/errors.ts';
import { readVideoMetadata, VIDEO_PROBE_TIMEOUT_MS } from '../metadata/video-metadata.ts';
import { cancelledError, runFfmpeg, type FfmpegOutcome, type FfmpegSpec } from './ffmpeg-runner.ts';
import { posterSeekSec, posterSize, proxySize, type FrameSize } from './video-geometry.ts';

/** What to make for one video, where to write it, and how to stop or follow the work. */
export interface VideoDerivativeRequest {
  /** The video file; whatever its name ("http:x.mp4", "concat:a|b"), it is only ever opened as a local file. */
  source: string;
  /** Where the poster JPEG goes (long edge at most PREVIEW_SIZE, never enlarged). */
  posterPath: string;
  /** Where the MP4 proxy goes. */
  proxyPath: string;
  /** Aborting kills ffmpeg, removes temporary files and rejects with `cancelled`. */
  signal?: AbortSignal;
  /** 0..1 while the proxy is encoded; 1 once it is done. */
  onProgress?: (fraction: number) => void;
  /**
   * Hard wall-clock limit for each ffmpeg run; default 60 s for the poster, 2 min + 4× the encoded length for the
   * proxy. The ffprobe run before them gets this or 15 s, whichever is longer.
   */
  timeoutMs?: number;
  /** The proxy covers at most this much of the video, from its start; default {@link MAX_PROXY_DURATION_SEC}. */
  maxProxyDurationSec?: number;
  /** Where oddities (a partial read, the commands run) are logged; silent by default. */
  log?: Logger;
}

/** What {@link makeVideoDerivatives} made. `width`/`height` are the video's displayed size (rotation applied). */
export interface VideoDerivativeResult {
  /** Length of the source video, in seconds. */
  durationSec: number;
  width: number;
  height: number;
  posterPath: string;
  proxyPath: string;
  proxyBytes: number;
  posterWidth?: number;
  posterHeight?: number;
  proxyWidth?: number;
  proxyHeight?: number;
  /** Length of the proxy: shorter than `durationSec` only when the video is longer than the proxy cap. */
  proxyDurationSec?: number;
  /** Whether the source (and so the proxy) has sound. */
  hasAudio?: boolean;
}

/** What {@link makeVideoPoster} made; `width`/`height` are the video's displayed size. */
export interface VideoPosterResult {
  posterPath: string;
  width: number;
  height: number;
  posterWidth?: number;
  posterHeight?: number;
  durationSec?: number;
}

/** What {@link makeVideoProxy} made; `width`/`height` are the video's displayed size. */
export interface VideoProxyResult {
  proxyPath: string;
  proxyBytes: number;
  /** Length of the source video, in seconds. */
  durationSec: number;
  width: number;
  height: number;
  proxyWidth?: number;
  proxyHeight?: number;
  proxyDurationSec?: number;
  hasAudio?: boolean;
}

/**
 * Longest stretch of a video the proxy covers: 3 hours, a whole school play or graduation ceremony. Past it a
 * proxy costs hours of CPU for footage nobody watches in a browser (and a crafted 1×1 file that claims to last
 * ten hours would keep a core busy all day); the original keeps everything.
 */
export const MAX_PROXY_DURATION_SEC = 3 * 3600;
/** x264's constant-quality setting: 23 is its default and looks clean at 720p (~1.5 Mb/s for camera footage). */
export const PROXY_CRF = 23;
/** Frame-rate cap; lower rates are kept, 50/60 fps footage is halved. */
export const PROXY_MAX_FPS = 30;
/** AAC bit rate of the proxy's stereo sound. */
export const PROXY_AUDIO_BITRATE = '128k';
/** Default limit on one poster run. */
export const POSTER_TIMEOUT_MS = 60_000;
/** A proxy run whose position has not moved for this long is killed (see RunFfmpegOptions.stallMs). */
export const PROXY_STALL_MS = 120_000;

// Demuxers a camera, phone or camcorder file may need. Anything else (playlists such as HLS, image sequences,
// concat lists, text formats) could make ffmpeg pull other local files into a proxy that is later published.
const DEMUXERS = ['mov', 'mp4', 'mpegts', 'avi', 'matroska', 'webm', 'mpeg', 'mpegvideo', 'flv', 'asf', 'ogg', 'dv', 'mxf', 'm4v', 'h264', 'hevc', 'mjpeg'];

const FALLBACK_LOG = createLogger('media:video');

/** A probed source: what the commands are built from. */
export interface VideoSource {
  /** Absolute path. */
  path: string;
  /** File name, for messages. */
  name: string;
  /** Displayed size: rotation and pixel aspect applied. */
  display: FrameSize;
  durationSec: number | undefined;
  hasAudio: boolean;
}

/** Probes `source` with ffprobe (via readVideoMetadata); rejects with `corrupt-media`/`unsupported-media` when it is no usable video. */
export async function inspectVideo(source: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<VideoSource> {
  const path = resolve(source);
  const name = basename(path);
  const metadata = await readVideoMetadata(path, {
    ...(options.signal ? { signal: options.signal } : {}),
    // A caller's limit sized for slow storage extends the probe's; a short one (meant for the encode) does not
    // cut it below the 15 s a card reader may need to answer.
    timeoutMs: Math.max(options.timeoutMs ?? 0, VIDEO_PROBE_TIMEOUT_MS),
  });
  const { width, height } = metadata;
  if (!width || !height || width < 1 || height < 1) {
    throw new AppError('corrupt-media', `Could not read the video "${name}": the size of its picture is missing, so the file is probably damaged.`);
  }
  return { path, name, display: { width, height }, durationSec: metadata.durationSec, hasAudio: metadata.audioCodec !== undefined };
}

/** The ffmpeg run that writes the poster of `video` to `output`, taking the frame at `seekSec`. */
export function posterCommand(video: VideoSource, output: string, seekSec: number): FfmpegSpec {
  const size = posterSize(video.display);
  return {
    inputOptions: [...commonInputOptions(), ...(seekSec > 0 ? ['-ss', String(seekSec)] : [])],
    input: `file:${video.path}`,
    outputOptions: [
      '-map', '0:V:0',
      '-frames:v', '1',
      // Rotation is applied by ffmpeg's autorotate before this chain; the JPEG gets square pixels and full range.
      '-vf', `${deinterlace(video)}scale=${size.width}:${size.height}:flags=lanczos,setsar=1,format=yuvj420p`,
      '-c:v', 'mjpeg',
      '-q:v', '3',
      ...stripMetadata(),
      // Keeps the encoder's "Lavc" comment out of the JPEG.
      '-flags:v', '+bitexact',
      '-f', 'image2',
      '-update', '1',
      '-y',
    ],
    output: `file:${output}`,
  };
}

/** The ffmpeg run that writes the 720p H.264/AAC proxy of `video` to `output`; the benchmark runs the same through the CLI. */
export function proxyCommand(video: VideoSource, output: string, maxDurationSec: number = MAX_PROXY_DURATION_SEC): FfmpegSpec {
  const size = proxySize(video.display);
  return {
    inputOptions: [...commonInputOptions(), '-stats'],
    input: `file:${video.path}`,
    outputOptions: [
      // "V" skips cover art, which MP4s store as a video stream; "?" makes the sound optional.
      '-map', '0:V:0',
      '-map', '0:a:0?',
      '-t', String(maxDurationSec),
      '-vf', `${deinterlace(video)}scale=${size.width}:${size.height},setsar=1`,
      '-pix_fmt', 'yuv420p',
      '-c:v', 'libx264',
      '-preset', 'veryfast',
      '-crf', String(PROXY_CRF),
      '-profile:v', 'high',
      // A cap, not a rate: 25 fps stays 25. Variable frame rate keeps sparse or phone VFR footage from being
      // padded with duplicated frames (a file with two frames ten hours apart would otherwise encode ten hours).
      '-fpsmax', String(PROXY_MAX_FPS),
      '-vsync', 'vfr',
      '-c:a', 'aac',
      '-b:a', PROXY_AUDIO_BITRATE,
      '-ac', '2',
      '-ar', '48000',
      // Phones interleave sound and picture loosely; the default queue of 128 packets can overflow on such files.
      '-max_muxing_queue_size', '4096',
      ...stripMetadata(),
      '-movflags', '+faststart',
      '-f', 'mp4',
      '-y',
    ],
    output: `file:${output}`,
  };
}

/** Writes the poster frame of `request.source` to `request.posterPath` (atomically), rotation applied, no metadata. */
export async function makeVideoPoster(request: Omit<VideoDerivativeRequest, 'proxyPath' | 'onProgress'>): Promise<VideoPosterResult> {
  const video = await inspectVideo(request.source, request);
  const temp = tempPathFor(request.posterPath);
  try {
    const poster = await renderPoster(video, request.posterPath, request);
    await commit([[temp, request.posterPath]], request.signal, video.name);
    return {
      posterPath: request.posterPath,
      width: video.display.width,
      height: video.display.height,
      posterWidth: poster.width,
      posterHeight: poster.height,
      ...(video.durationSec === undefined ? {} : { durationSec: video.durationSec }),
    };
  } catch (error) {
    await removeQuietly(temp);
    throw failure(error, request.signal, `the poster of "${video.name}"`);
  }
}

/** Writes the 720p H.264/AAC proxy of `request.source` to `request.proxyPath` (atomically), reporting progress. */
export async function makeVideoProxy(request: Omit<VideoDerivativeRequest, 'posterPath'>): Promise<VideoProxyResult> {
  const video = await inspectVideo(request.source, request);
  const temp = tempPathFor(request.proxyPath);
  try {
    const proxy = await renderProxy(video, request.proxyPath, request);
    await commit([[temp, request.proxyPath]], request.signal, video.name);
    request.onProgress?.(1);
    return {
      proxyPath: request.proxyPath,
      proxyBytes: proxy.bytes,
      durationSec: video.durationSec ?? proxy.durationSec,
      width: video.display.width,
      height: video.display.height,
      proxyWidth: proxy.width,
      proxyHeight: proxy.height,
      proxyDurationSec: proxy.durationSec,
      hasAudio: video.hasAudio,
    };
  } catch (error) {
    await removeQuietly(temp);
    throw failure(error, request.signal, `the proxy of "${video.name}"`);
  }
}

/**
 * Makes the poster, then the proxy, of one video with a single probe. Both or neither: the two files are
 * renamed into place only once both are complete, so a failure or an abort leaves no new file behind (and
 * earlier versions untouched). Callers that want the poster early call {@link makeVideoPoster} first.
 */
export async function makeVideoDerivatives(request: VideoDerivativeRequest): Promise<VideoDerivativeResult> {
  if (resolve(request.posterPath) === resolve(request.proxyPath)) {
    throw new AppError('invalid-input', 'The poster and the proxy of a video need two different file names.');
  }
  const video = await inspectVideo(request.source, request);
  const posterTemp = tempPathFor(request.posterPath);
  const proxyTemp = tempPathFor(request.proxyPath);
  try {
    const poster = await renderPoster(video, request.posterPath, request);
    const proxy = await renderProxy(video, request.proxyPath, request);
    await commit(
      [
        [posterTemp, request.posterPath],
        [proxyTemp, request.proxyPath],
      ],
      request.signal,
      video.name,
    );
    request.onProgress?.(1);
    return {
      durationSec: video.durationSec ?? proxy.durationSec,
      width: video.display.width,
      height: video.display.height,
      posterPath: request.posterPath,
      proxyPath: request.proxyPath,
      proxyBytes: proxy.bytes,
      posterWidth: poster.width,
      posterHeight: poster.height,
      proxyWidth: proxy.width,
      proxyHeight: proxy.height,
      proxyDurationSec: proxy.durationSec,
      hasAudio: video.hasAudio,
    };
  } catch (error) {
    await Promise.all([removeQuietly(posterTemp), removeQuietly(proxyTemp)]);
    throw failure(error, request.signal, `the poster and proxy of "${video.name}"`);
  }
}

interface RenderOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  log?: Logger;
}

/** Writes the poster to the temporary file beside `posterPath` and fsyncs it; the caller renames it. */
async function renderPoster(video: VideoSource, posterPath: string, options: RenderOptions): Promise<FrameSize> {
  const temp = await prepareTemp(posterPath);
  const subject = `the poster of "${video.name}"`;
  const run = (seekSec: number): Promise<FfmpegOutcome> =>
    runFfmpeg(posterCommand(video, temp, seekSec), {
      subject,
      timeoutMs: options.timeoutMs ?? POSTER_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  const seekSec = posterSeekSec(video.durationSec);
  await run(seekSec);
  // A seek past the last frame (a clip shorter than its header claims) encodes nothing; the first frame will do.
  if ((await sizeOf(temp)) === 0 && seekSec > 0) {
    (options.log ?? FALLBACK_LOG).debug('no frame after the poster seek; using the first frame', { source: video.path, seekSec });
    await run(0);
  }
  if ((await sizeOf(temp)) === 0) {
    throw new AppError('corrupt-media', `Could not make ${subject}: no picture in the file could be decoded, so it is probably damaged.`);
  }
  await syncFile(temp);
  return posterSize(video.display);
}

/** Writes the proxy to the temporary file beside `proxyPath` and fsyncs it; the caller renames it. */
async function renderProxy(
  video: VideoSource,
  proxyPath: string,
  options: RenderOptions & { onProgress?: (fraction: number) => void; maxProxyDurationSec?: number },
): Promise<FrameSize & { bytes: number; durationSec: number }> {
  const temp = await prepareTemp(proxyPath);
  const subject = `the proxy of "${video.name}"`;
  const maxDurationSec = options.maxProxyDurationSec ?? MAX_PROXY_DURATION_SEC;
  if (!(maxDurationSec > 0)) throw new AppError('invalid-input', `The longest proxy must be a positive number of seconds, not ${maxDurationSec}.`);
  const expectedSec = Math.min(video.durationSec ?? maxDurationSec, maxDurationSec);
  // Reaching this far counts as a complete read (see the check after the run).
  const completeSec = expectedSec * 0.9 - 1;
  let reported = 0;
  const outcome = await runFfmpeg(proxyCommand(video, temp, maxDurationSec), {
    subject,
    // Camera footage encodes at about 2× real time on two cores; 4× plus two minutes leaves room for 4K sources
    // and a busy machine, and the stall check catches a run that stops moving long before.
    timeoutMs: options.timeoutMs ?? 120_000 + 4_000 * expectedSec,
    stallMs: PROXY_STALL_MS,
    stallCheckUntilSec: expectedSec * 0.9,
    ...(options.signal ? { signal: options.signal } : {}),
    onTime: (seconds) => {
      if (!options.onProgress || !(expectedSec > 0)) return;
      // Just under 1 until the file is complete and in place; the caller reports 1.
      const fraction = Math.min(0.99, Math.max(0, seconds / expectedSec));
      if (fraction > reported) {
        reported = fraction;
        options.onProgress(fraction);
      }
    },
  });
  const bytes = await sizeOf(temp);
  if (bytes === 0) throw new AppError('corrupt-media', `Could not make ${subject}: no picture in the file could be decoded, so it is probably damaged.`);
  const reachedSec = outcome.lastTimeSec ?? 0;
  const partial = outcome.messages.some((line) => /partial file/i.test(line));
  // A file cut short (a card pulled out mid-copy) decodes without an error up to where its data stops; a proxy of
  // its first half would look like the whole video. The margin spares headers that round or estimate the length.
  if (video.durationSec !== undefined && reachedSec < completeSec) {
    throw new AppError(
      'corrupt-media',
      `Could not make ${subject}: only ${formatClock(reachedSec)} of its ${formatClock(expectedSec)} could be read${partial ? ' (the file is cut short' : ' (the file is damaged or incomplete'}, as happens when a recording or a copy is interrupted).`,
    );
  }
  if (partial) (options.log ?? FALLBACK_LOG).warn('the video ends early; the proxy covers what could be read', { source: video.path, reachedSec, expectedSec });
  await syncFile(temp);
  const size = proxySize(video.display);
  return { ...size, bytes, durationSec: video.durationSec === undefined ? reachedSec : expectedSec };
}

function commonInputOptions(): string[] {
  return [
    '-nostdin',
    '-hide_banner',
    '-v', 'error',
    // With the input given as "file:<path>", no file name is read as a protocol, and nothing inside the file
    // (a reference movie, a playlist) can make ffmpeg open a URL or a device.
    '-protocol_whitelist', 'file',
    '-format_whitelist', DEMUXERS.join(','),
  ];
}

function stripMetadata(): string[] {
  // Global, per-stream and chapter metadata (GPS "location"/©xyz, Apple mdta keys, camera make and serial,
  // dates) are dropped; bitexact stops the MP4 muxer writing its own encoder tag and creation dates.
  return ['-map_metadata', '-1', '-map_chapters', '-1', '-fflags', '+bitexact'];
}

function deinterlace(video: VideoSource): string {
  // Camcorders (AVCHD .MTS) record 1080i; without this the proxy shows combs on every movement. Only frames
  // flagged interlaced are touched, so progressive footage passes through. yadif needs at least 3×3 pixels.
  return video.display.width >= 4 && video.display.height >= 4 ? 'yadif=mode=send_frame:deint=interlaced,' : '';
}

async function prepareTemp(finalPath: string): Promise<string> {
  const temp = tempPathFor(finalPath);
  try {
    await mkdir(dirname(finalPath), { recursive: true });
    // A leftover of a crash is not ours to append to.
    await rm(temp, { force: true });
  } catch (error) {
    throw toAppError(error, `Cannot write into ${dirname(finalPath)}`);
  }
  return temp;
}

async function commit(moves: ReadonlyArray<readonly [temp: string, final: string]>, signal: AbortSignal | undefined, name: string): Promise<void> {
  // The last moment an abort can still leave nothing behind.
  if (signal?.aborted) throw cancelledError(`the derivatives of "${name}"`);
  try {
    for (const [temp, final] of moves) await rename(temp, final);
    await Promise.all([...new Set(moves.map(([, final]) => dirname(final)))].map(syncDirectory));
  } catch (error) {
    throw toAppError(error, `Cannot save the derivatives of "${name}"`);
  }
}

async function syncFile(file: string): Promise<void> {
  try {
    const handle = await open(file, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw toAppError(error, `Cannot save ${file}`);
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => undefined);
}

function failure(error: unknown, signal: AbortSignal | undefined, subject: string): AppError {
  if (signal?.aborted && !(error instanceof AppError && error.code === 'cancelled')) return cancelledError(subject);
  return error instanceof AppError ? error : toAppError(error, `Making ${subject}`);
}

function formatClock(seconds: number): string {
  if (seconds < 60) return `${Number(seconds.toFixed(1))} s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
