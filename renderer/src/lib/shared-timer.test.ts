import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runAfter } from './shared-timer.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('runAfter', () => {
  it('runs callbacks falling due within a frame of each other in one task, none before its time less a frame', () => {
    const ran: string[] = [];
    runAfter(80, () => ran.push('a'));
    vi.advanceTimersByTime(5);
    runAfter(80, () => ran.push('b'));
    runAfter(300, () => ran.push('late'));
    vi.advanceTimersByTime(74);
    expect(ran).toEqual([]);
    // One timer fires for both: the second falls due within the same frame as the first.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(ran).toEqual(['a', 'b']);
    vi.advanceTimersByTime(200);
    expect(ran).toEqual(['a', 'b']);
    vi.advanceTimersByTime(25);
    expect(ran).toEqual(['a', 'b', 'late']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never runs a cancelled callback, and an earlier one moves the timer forward', () => {
    const ran: string[] = [];
    const cancel = runAfter(100, () => ran.push('cancelled'));
    runAfter(20, () => ran.push('soon'));
    cancel();
    vi.advanceTimersByTime(20);
    expect(ran).toEqual(['soon']);
    vi.advanceTimersByTime(500);
    expect(ran).toEqual(['soon']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
