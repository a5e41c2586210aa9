import { describe, expect, it } from 'vitest';
import { cullAction, isTypingTarget, type KeyPress } from './keymap.ts';

const press = (key: string, mods: Partial<KeyPress> = {}): KeyPress => ({ key, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...mods });

describe(cullAction.name, () => {
  it('maps the culling keys', () => {
    expect(cullAction(press('4'))).toEqual({ type: 'rate', rating: 4 });
    expect(cullAction(press('0'))).toEqual({ type: 'rate', rating: 0 });
    expect(cullAction(press('p'))).toEqual({ type: 'flag', flag: 'pick' });
    expect(cullAction(press('X', { shiftKey: true }))).toEqual({ type: 'flag', flag: 'reject' });
    expect(cullAction(press('u'))).toEqual({ type: 'flag', flag: 'none' });
    expect(cullAction(press('6'))).toEqual({ type: 'label', label: 'red' });
    expect(cullAction(press('9'))).toEqual({ type: 'label', label: 'blue' });
    expect(cullAction(press(' '))).toEqual({ type: 'loupe' });
    expect(cullAction(press('Enter'))).toEqual({ type: 'loupe' });
    expect(cullAction(press('Escape'))).toEqual({ type: 'close' });
    expect(cullAction(press('t'))).toEqual({ type: 'tag' });
  });

  it('moves with the arrows and extends the selection with Shift', () => {
    expect(cullAction(press('ArrowDown'))).toEqual({ type: 'move', by: 'down', extend: false });
    expect(cullAction(press('ArrowLeft', { shiftKey: true }))).toEqual({ type: 'move', by: 'left', extend: true });
  });

  it('selects all with Ctrl+A or Cmd+A, and leaves other shortcuts to the browser', () => {
    expect(cullAction(press('a', { ctrlKey: true }))).toEqual({ type: 'selectAll' });
    expect(cullAction(press('a', { metaKey: true }))).toEqual({ type: 'selectAll' });
    expect(cullAction(press('4', { ctrlKey: true }))).toBeNull();
    expect(cullAction(press('ArrowLeft', { altKey: true }))).toBeNull();
    expect(cullAction(press('q'))).toBeNull();
  });
});

describe(isTypingTarget.name, () => {
  it('ignores keys typed into fields, and Space or Enter on a button or a video', () => {
    const input = document.createElement('input');
    const button = document.createElement('button');
    const video = document.createElement('video');
    const grid = document.createElement('div');
    expect(isTypingTarget(input, '4')).toBe(true);
    expect(isTypingTarget(document.createElement('textarea'), 'p')).toBe(true);
    expect(isTypingTarget(button, ' ')).toBe(true);
    expect(isTypingTarget(button, '4')).toBe(false);
    expect(isTypingTarget(video, ' ')).toBe(true);
    expect(isTypingTarget(grid, ' ')).toBe(false);
  });
});
