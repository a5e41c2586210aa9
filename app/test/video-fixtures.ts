import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { findFfmpeg } from '../media/ffmpeg-path.ts';
import { mp4Boxes, setVideoRotation } from './fixtures.ts';

// Video fixtures that app/test/fixtures.ts's makeVideo does not cover: pictures whose orientation can be checked
// pixel by pixel, other frame rates, 1×1 and very long clips, and helpers to inspect what ffmpeg wrote.

const run = promisify(execFile);

/** What {@link makeClip} draws. */
export type ClipPattern =
  /** Left half red, right half blue: after rotation, where the red is says which way up the picture is. */
  | 'split'
  /** ffmpeg's moving test card. */
  | 'testsrc'
  /** A moving, noisy picture that compresses like camera footage. */
  | 'camera';

/** Options for {@link makeClip}. */
export interface ClipOptions {
  pattern?: ClipPattern;
  /** Default 320×240. Odd sizes (down to 1×1) are written as 4:4:4, which H.264 allows. */
  width?: number;
  height?: number;
  /** Seconds; default 1. */
  durationSec?: number;
  /** Frames per second, a number or a fraction such as `1/6`; default 25. */
  rate?: number | string;
  /** Default false. */
  audio?: boolean;
  /** Clockwise display rotation written into the video track's tkhd matrix, as phones record upright video. */
  rotation?: 0 | 90 | 180 | 270;
  /** x264 preset for the fixture; default ultrafast. */
  preset?: string;
  /** Extra `-metadata key=value` pairs (mp4/mov). */
  metadata?: Record<string, string>;
}

/** Writes an H.264 MP4 (or MOV, by extension) test clip through the ffmpeg CLI. */
export async function makeClip(path: string, options: ClipOptions = {}): Promise<string> {
  const ffmpeg = await findFfmpeg();
  const width = options.width ?? 320;
  const height = options.height ?? 240;
  const duration = String(options.durationSec ?? 1);
  const rate = String(options.rate ?? 25);
  const tiny = width % 2 === 1 || height % 2 === 1;
  const args = ['-hide_banner', '-v', 'error', '-y'];
  // lavfi's sources refuse sizes below 2×2 and odd chroma; draw larger and scale to the exact size.
  const drawWidth = Math.max(16, width + (width % 2));
  const drawHeight = Math.max(16, height + (height % 2));
  const pattern = options.pattern ?? 'testsrc';
  let graph: string;
  if (pattern === 'split') {
    const half = drawWidth / 2;
    graph = `color=c=red:size=${half}x${drawHeight}:rate=${rate}:duration=${duration}[l];color=c=blue:size=${half}x${drawHeight}:rate=${rate}:duration=${duration}[r];[l][r]hstack`;
  } else if (pattern === 'camera') {
    graph = `testsrc2=size=${drawWidth}x${drawHeight}:rate=${rate}:duration=${duration},noise=alls=24:allf=t+u`;
  } else {
    graph = `testsrc=size=${drawWidth}x${drawHeight}:rate=${rate}:duration=${duration}`;
  }
  // One lavfi graph with both outputs: out0 is the picture, out1 the sound.
  graph += `,scale=${width}:${height}[out0]`;
  if (options.audio) graph += `;sine=frequency=440:sample_rate=48000:duration=${duration}[out1]`;
  args.push('-f', 'lavfi', '-i', graph);
  args.push('-c:v', 'libx264', '-preset', options.preset ?? 'ultrafast', '-pix_fmt', tiny ? 'yuv444p' : 'yuv420p');
  if (options.audio) args.push('-c:a', 'aac', '-b:a', '64k');
  for (const [key, value] of Object.entries(options.metadata ?? {})) args.push('-metadata', `${key}=${value}`);
  if (options.metadata && Object.keys(options.metadata).some((key) => key.startsWith('com.apple.'))) args.push('-movflags', '+use_metadata_tags');
  args.push(path);
  await mkdir(dirname(path), { recursive: true });
  try {
    await run(ffmpeg, args, { timeout: 120_000 });
  } catch (error) {
    throw new Error(`ffmpeg could not make the fixture ${path}: ${(error as { stderr?: string }).stderr ?? String(error)}`, { cause: error });
  }
  if (options.rotation) await setVideoRotation(path, options.rotation);
  return path;
}

/** Writes an M4A with sound and no picture (a voice memo, or a video app's audio export). */
export async function makeSoundOnly(path: string, durationSec = 1): Promise<string> {
  const ffmpeg = await findFfmpeg();
  await mkdir(dirname(path), { recursive: true });
  await run(ffmpeg, ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=440:duration=${durationSec}`, '-c:a', 'aac', '-f', 'mp4', path], { timeout: 60_000 });
  return path;
}

/** The types of an MP4's top-level boxes in file order, e.g. `['ftyp', 'moov', 'free', 'mdat']` for a faststart file. */
export async function topLevelBoxes(path: string): Promise<string[]> {
  const file = await readFile(path);
  return mp4Boxes(file, 0, file.length).map((box) => box.type);
}

/** Pids of the ffmpeg/ffprobe processes this process started that are still running (or not yet reaped). */
export async function childMediaProcesses(): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'latin1');
      // "pid (comm) state ppid …"; comm may hold spaces, so read after the last ")".
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && /^ff(mpeg|probe)$/.test(comm)) found.push(Number(entry));
    } catch {
      // Gone between readdir and readFile.
    }
  }
  return found;
}

/** RGB of the pixel at (x, y) of a decoded frame. */
export type Rgb = [number, number, number];

/** A frame as raw RGB pixels with a reader for one pixel. */
export interface DecodedFrame {
  width: number;
  height: number;
  pixel(x: number, y: number): Rgb;
}

/** Decodes an image (the poster's file, or encoded bytes) with sharp. */
export async function decodeImage(input: string | Buffer): Promise<DecodedFrame> {
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return toFrame(data, info.width, info.height, info.channels);
}

/**
 * The first frame of a video as stored, without applying any display rotation (`-noautorotate`): a proxy that
 * looks upright here is upright in every player, whether or not it honours rotation tags.
 */
export async function storedFrame(path: string): Promise<DecodedFrame> {
  const ffmpeg = await findFfmpeg();
  const { stdout } = await run(ffmpeg, ['-v', 'error', '-noautorotate', '-i', `file:${path}`, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30_000,
  });
  return decodeImage(stdout);
}

/** Whether a pixel is clearly red or clearly blue (video's limited-range YUV and JPEG blur the exact values). */
export function colourOf([r, g, b]: Rgb): 'red' | 'blue' | 'other' {
  if (r > 150 && g < 90 && b < 90) return 'red';
  if (b > 150 && r < 90 && g < 90) return 'blue';
  return 'other';
}

function toFrame(data: Buffer, width: number, height: number, channels: number): DecodedFrame {
  return {
    width,
    height,
    pixel: (x, y) => {
      const at = (Math.floor(y) * width + Math.floor(x)) * channels;
      return [data[at] ?? 0, data[at + 1] ?? 0, data[at + 2] ?? 0];
    },
  };
}

