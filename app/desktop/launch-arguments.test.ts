import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLaunchArguments } from './launch-arguments.ts';

describe(readLaunchArguments.name, () => {
  it('focuses the window and offers a folder given on the command line, resolved against the caller’s folder', () => {
    expect(readLaunchArguments(['/opt/Keepsake/keepsake', 'EOS_DIGITAL'], { cwd: '/media/ana', packaged: true })).toEqual({ focus: true, source: path.resolve('/media/ana', 'EOS_DIGITAL') });
    expect(readLaunchArguments(['/opt/Keepsake/keepsake', '/media/ana/EOS_DIGITAL'], { cwd: '/home/ana', packaged: true })).toEqual({ focus: true, source: path.resolve('/media/ana/EOS_DIGITAL') });
  });

  it('skips Chromium’s switches, and the app directory of an unpackaged run', () => {
    const argv = ['/usr/bin/electron', '.', '--allow-file-access-from-files', '--enable-features=X', '/media/card'];
    expect(readLaunchArguments(argv, { cwd: '/work', packaged: false }).source).toBe(path.resolve('/media/card'));
    expect(readLaunchArguments(['/usr/bin/electron', '.'], { cwd: '/work', packaged: false })).toEqual({ focus: true, source: null });
  });

  it('just focuses the window when there is no path', () => {
    expect(readLaunchArguments(['C:\\Program Files\\Keepsake\\Keepsake.exe'], { cwd: 'C:\\', packaged: true })).toEqual({ focus: true, source: null });
    expect(readLaunchArguments(['keepsake', '--hidden'], { cwd: '/', packaged: true })).toEqual({ focus: true, source: null });
  });

  it('never takes a URL for a path', () => {
    for (const url of ['keepsake://app/index.html', 'https://evil.example/x', 'file:///etc']) {
      expect(readLaunchArguments(['keepsake', url], { cwd: '/', packaged: true }).source).toBeNull();
    }
  });

  it('takes a path that looks like a switch after --', () => {
    expect(readLaunchArguments(['keepsake', '--', '-photos'], { cwd: '/home/ana', packaged: true }).source).toBe(path.resolve('/home/ana', '-photos'));
  });
});
