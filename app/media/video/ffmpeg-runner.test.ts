import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeRandomBytes, makeVideo, useTempDir } from '../../test/fixtures.ts';
import { childMediaProcesses } from '../../test/video-fixtures.ts';
import { ffmpegArgs, runFfmpeg, type FfmpegSpec } from './ffmpeg-runner.ts';

const run = promisify(execFile);

function toNull(input: string, extra: string[] = []): FfmpegSpec {
  return { inputOptions: ['-nostdin', '-v', 'error', '-stats', '-protocol_whitelist', 'file'], input: `file:${input}`, outputOptions: [...extra, '-f', 'null', '-y'], output: '-' };
}

describe(ffmpegArgs.name, () => {
  it('puts the input options before -i and the output last', () => {
    expect(ffmpegArgs({ inputOptions: ['-nostdin', '-ss', '1'], input: 'file:/a b.mp4', outputOptions: ['-f', 'mp4'], output: 'file:/c.mp4' })).toEqual([
      '-nostdin', '-ss', '1', '-i', 'file:/a b.mp4', '-f', 'mp4', 'file:/c.mp4',
    ]);
  });
});

describe(runFfmpeg.name, () => {
  it('reports the position ffmpeg reaches and resolves once it has exited', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-run-');
    const clip = await makeVideo(dir.join('clip.mp4'), { durationSec: 1 });
    const times: number[] = [];
    const outcome = await runFfmpeg(toNull(clip), { subject: 'the test clip', timeoutMs: 20_000, onTime: (seconds) => times.push(seconds) });
    expect(outcome.lastTimeSec).toBeCloseTo(1, 0);
    expect(times.at(-1)).toBe(outcome.lastTimeSec);
    expect(await childMediaProcesses()).toEqual([]);
  });

  it('kills an ffmpeg that makes no progress, as when a drive stops answering', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-run-');
    // Opening a FIFO nobody writes to blocks, as a read from a dead network share does.
    const fifo = dir.join('stuck.mp4');
    await run('mkfifo', [fifo]);
    const started = Date.now();
    await expect(runFfmpeg(toNull(fifo), { subject: 'the test clip', timeoutMs: 20_000, stallMs: 500 })).rejects.toMatchObject({
      name: 'AppError',
      code: 'corrupt-media',
      message: 'Making the test clip was stopped because ffmpeg made no progress for 500 ms: the file is probably damaged, or the drive it is on stopped answering.',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await childMediaProcesses()).toEqual([]);
  });

  it('explains a full disk as disk-full', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-run-');
    const clip = await makeVideo(dir.join('clip.mp4'), { durationSec: 0.2 });
    const spec: FfmpegSpec = { ...toNull(clip), outputOptions: ['-c:v', 'libx264', '-f', 'mp4', '-y'], output: 'file:/dev/full' };
    await expect(runFfmpeg(spec, { subject: 'the test clip', timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'disk-full', message: 'Could not make the test clip: the disk is full.' });
  });

  it('explains data ffmpeg cannot read in plain words', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-run-');
    const junk = await makeRandomBytes(dir.join('junk.bin'), 8192);
    await expect(runFfmpeg(toNull(junk), { subject: 'the test clip', timeoutMs: 20_000 })).rejects.toMatchObject({
      code: 'corrupt-media',
      message: 'Could not make the test clip: it is not a video format FFmpeg knows, or it is damaged.',
    });
  });

  it('is cancelled by its signal', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-run-');
    const fifo = dir.join('stuck.mp4');
    await run('mkfifo', [fifo]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await expect(runFfmpeg(toNull(fifo), { subject: 'the test clip', timeoutMs: 20_000, signal: controller.signal })).rejects.toMatchObject({
      code: 'cancelled',
      message: 'Making the test clip was cancelled.',
    });
    expect(await childMediaProcesses()).toEqual([]);
  });
});
