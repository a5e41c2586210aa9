import type { AssetFlag, ColorLabel } from '../../../app/shared/domain.ts';

/** What a key press asks of the grid or the loupe. */
export type CullAction =
  | { type: 'move'; by: 'left' | 'right' | 'up' | 'down' | 'home' | 'end' | 'pageUp' | 'pageDown'; extend: boolean }
  | { type: 'selectAll' }
  | { type: 'rate'; rating: number }
  | { type: 'flag'; flag: AssetFlag }
  | { type: 'label'; label: ColorLabel }
  | { type: 'loupe' }
  | { type: 'close' }
  | { type: 'tag' };

/** The part of a KeyboardEvent the keymap reads. */
export interface KeyPress {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

/** Lightroom's colour keys: 6 red, 7 yellow, 8 green, 9 blue (purple has no key there either). */
export const LABEL_KEYS: Readonly<Record<string, ColorLabel>> = { '6': 'red', '7': 'yellow', '8': 'green', '9': 'blue' };

const MOVES: Readonly<Record<string, Extract<CullAction, { type: 'move' }>['by']>> = {
  ArrowLeft: 'left',
  ArrowRight: 'right',
  ArrowUp: 'up',
  ArrowDown: 'down',
  Home: 'home',
  End: 'end',
  PageUp: 'pageUp',
  PageDown: 'pageDown',
};

/** The culling action of a key press, or null when the key is not the grid's (it is then left to the browser). */
export function cullAction(press: KeyPress): CullAction | null {
  const command = press.ctrlKey || press.metaKey;
  if (command && !press.altKey && press.key.toLowerCase() === 'a') return { type: 'selectAll' };
  // Alt+← is Back, and Ctrl/Cmd combinations belong to the browser and the menus.
  if (command || press.altKey) return null;
  const move = MOVES[press.key];
  if (move) return { type: 'move', by: move, extend: press.shiftKey };
  if (/^[0-5]$/.test(press.key)) return { type: 'rate', rating: Number(press.key) };
  const label = LABEL_KEYS[press.key];
  if (label) return { type: 'label', label };
  switch (press.key.toLowerCase()) {
    case 'p':
      return { type: 'flag', flag: 'pick' };
    case 'x':
      return { type: 'flag', flag: 'reject' };
    case 'u':
      return { type: 'flag', flag: 'none' };
    case 't':
      return { type: 'tag' };
    case ' ':
    case 'enter':
      return { type: 'loupe' };
    case 'escape':
      return { type: 'close' };
    default:
      return null;
  }
}

/** True when keys typed at `target` are text (or a control's own Space/Enter) rather than culling commands. */
export function isTypingTarget(target: EventTarget | null, key: string): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') return true;
  // A focused button or video keeps Space and Enter for itself (press it, play/pause).
  return (key === ' ' || key === 'Enter') && (tag === 'BUTTON' || tag === 'VIDEO' || tag === 'A');
}
