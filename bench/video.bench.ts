import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { findFfmpeg } from '../app/media/ffmpeg-path.ts';
import { ffmpegArgs } from '../app/media/video/ffmpeg-runner.ts';
import { inspectVideo, makeVideoPoster, makeVideoProxy, posterCommand, proxyCommand } from '../app/media/video/video-derivatives.ts';
import { posterSeekSec } from '../app/media/video/video-geometry.ts';
import {
  MIB,
  checkRow,
  compareRow,
  formatBytes,
  median,
  runTool,
  timeOnce,
  timeRoundRobin,
  toolVersion,
  type BenchOptions,
  type BenchReport,
} from './lib/harness.ts';

// The 720p proxy through makeVideoProxy (probe, fluent-ffmpeg, fsync, rename) against the ffmpeg CLI run with
// exactly the arguments makeVideoProxy passes, on a camera-like 1080p30 H.264 source.

const CAMERA_BITRATE = '36M';

/** Writes the source once: testsrc2 with temporal noise, so it compresses like a camera's 36 Mb/s footage, plus stereo sound. */
async function ensureSource(file: string, seconds: number, log: (line: string) => void): Promise<void> {
  try {
    if ((await stat(file)).size > 0) return;
  } catch {
    // Not made yet.
  }
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.partial`;
  log(`video: writing a ${seconds} s 1080p30 camera-like source to ${file} (once)`);
  const ffmpeg = await findFfmpeg();
  await runTool(ffmpeg, [
    '-nostdin', '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${seconds},noise=alls=18:allf=t+u`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', CAMERA_BITRATE, '-maxrate', CAMERA_BITRATE, '-bufsize', '72M', '-g', '30',
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '256k', '-ac', '2',
    '-f', 'mp4', temp,
  ]);
  // Renamed only when complete, so an interrupted bench never leaves a short source that looks cached.
  await rename(temp, file);
}

/** Times our video proxy and poster against the ffmpeg CLI with the same arguments. */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const seconds = options.quick ? 10 : 60;
  const rounds = options.quick ? 1 : 3;
  const root = path.join(options.benchDir, 'video');
  const source = path.join(root, `camera-1080p30-${seconds}s.mp4`);
  await ensureSource(source, seconds, options.log);
  const work = path.join(root, 'work');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });

  const ffmpeg = await findFfmpeg();
  const video = await inspectVideo(source);
  const sourceBytes = (await stat(source)).size;
  const oursProxy = path.join(work, 'ours', 'proxy.mp4');
  const cliProxy = path.join(work, 'cli-proxy.mp4');
  const proxyArgs = ffmpegArgs(proxyCommand(video, cliProxy));
  const oursPoster = path.join(work, 'ours', 'poster.jpg');
  const cliPoster = path.join(work, 'cli-poster.jpg');
  const posterArgs = ffmpegArgs(posterCommand(video, cliPoster, posterSeekSec(video.durationSec)));

  // The poster runs first: it also warms the page cache and fluent-ffmpeg's one-off capability probe.
  options.log(`video: poster frame, ours vs CLI, ${rounds * 3} rounds`);
  await makeVideoPoster({ source, posterPath: oursPoster });
  const posterTimes = await timeRoundRobin(
    { ours: () => makeVideoPoster({ source, posterPath: oursPoster }), cli: () => runTool(ffmpeg, posterArgs) },
    { runs: rounds * 3 },
  );

  options.log(`video: 720p proxy of ${seconds} s (${formatBytes(sourceBytes)}), ours vs CLI with the same arguments, ${rounds} round(s) alternating`);
  let oursBytes = 0;
  const proxyTimes = await timeRoundRobin(
    {
      ours: async () => {
        oursBytes = (await makeVideoProxy({ source, proxyPath: oursProxy })).proxyBytes;
      },
      cli: () => runTool(ffmpeg, proxyArgs),
    },
    { runs: rounds },
  );
  const cliBytes = (await stat(cliProxy)).size;
  const probe = await timeOnce(() => inspectVideo(source));

  const oursProxySec = proxyTimes.ours?.median ?? null;
  const cliProxySec = proxyTimes.cli?.median ?? null;
  const perMinute = (value: number | null): number | null => (value === null ? null : value / (seconds / 60));
  const ratio = oursProxySec && cliProxySec ? cliProxySec / oursProxySec : null;
  const rows = [
    compareRow({ what: `proxy ${seconds} s 1080p30 → 720p, wall time`, unit: 's', ours: oursProxySec, reference: cliProxySec, better: 'lower', target: 0.95, note: 'reference: the ffmpeg CLI with the same arguments' }),
    compareRow({ what: 'proxy: seconds per minute of source', unit: 's/min', ours: perMinute(oursProxySec), reference: perMinute(cliProxySec), better: 'lower' }),
    compareRow({ what: 'proxy: speed', unit: '× real time', ours: oursProxySec ? seconds / oursProxySec : null, reference: cliProxySec ? seconds / cliProxySec : null, better: 'higher' }),
    compareRow({ what: 'proxy size', unit: 'MB', ours: oursBytes / 1e6, reference: cliBytes / 1e6, better: 'lower' }),
    checkRow({ what: 'proxy: same size as the CLI’s (same arguments)', unit: '', ours: null, target: 'within 1 %', pass: Math.abs(oursBytes - cliBytes) <= cliBytes * 0.01 }),
    compareRow({ what: 'poster frame (ours includes the ffprobe probe)', unit: 's', ours: posterTimes.ours?.median ?? null, reference: posterTimes.cli?.median ?? null, better: 'lower' }),
    checkRow({ what: 'probe (readVideoMetadata)', unit: 's', ours: probe.seconds, target: '–', pass: null }),
  ];
  options.log(`video: proxy ours ${oursProxySec?.toFixed(2)} s vs CLI ${cliProxySec?.toFixed(2)} s (${ratio?.toFixed(3)}×)`);

  return {
    name: 'video',
    rows,
    cachesDropped: null,
    details: {
      ffmpeg,
      ffmpegVersion: await toolVersion(ffmpeg, ['-version']),
      source: { file: source, seconds, bytes: sourceBytes, megabitsPerSecond: (sourceBytes * 8) / 1e6 / seconds, display: video.display },
      proxyArgs,
      posterArgs,
      proxy: { ours: proxyTimes.ours, cli: proxyTimes.cli, oursBytes, cliBytes, ratio, oursMiB: oursBytes / MIB },
      poster: { ours: posterTimes.ours, cli: posterTimes.cli, oursMedian: median(posterTimes.ours?.samples ?? []) },
      probeSeconds: probe.seconds,
    },
  };
}
