// The composer's small pickers: `/` for a saved reply, `@` for an agent in a note. Where a
// trigger is, what the keys do and how a pick goes into the text; no DOM here (tested in
// test/composer-tools.test.ts).

/** A trigger and what follows it up to the caret: `text.slice(start, end)` is e.g. `/than`. */
export interface Trigger {
  start: number;
  end: number;
  query: string;
}

const PATTERN = {
  '/': /(^|\s)\/([a-z0-9_-]*)$/i,
  '@': /(^|\s)@([\p{L}\p{N}._-]*)$/iu,
} as const;

/** `char` with the word typed after it, right before the caret, at the start or after whitespace. */
export function triggerAt(text: string, caret: number, char: '/' | '@'): Trigger | null {
  if (caret < 1 || caret > text.length) return null;
  const m = PATTERN[char].exec(text.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[2].length - 1, end: caret, query: m[2] };
}

/** `insert` in place of the trigger; the caret after it. A space follows unless one is there already. */
export function insertAt(text: string, trig: Trigger, insert: string, space = false): { value: string; caret: number } {
  const rest = text.slice(trig.end);
  const gap = space && !/^\s/.test(rest) ? ' ' : '';
  const value = text.slice(0, trig.start) + insert + gap + rest;
  return { value, caret: trig.start + insert.length + gap.length };
}

export type PickerAction = { kind: 'move'; index: number } | { kind: 'pick'; index: number } | { kind: 'close' } | null;

/**
 * A key while a picker of `count` options is open with `index` highlighted: ↓/↑ move (around),
 * Enter or Tab picks, Esc closes. Null: the key is the composer's (Enter sends when nothing matches).
 */
export function pickerKey(key: string, index: number, count: number): PickerAction {
  if (key === 'Escape') return { kind: 'close' };
  if (count === 0) return null;
  if (key === 'ArrowDown') return { kind: 'move', index: (index + 1) % count };
  if (key === 'ArrowUp') return { kind: 'move', index: (index - 1 + count) % count };
  if (key === 'Enter' || key === 'Tab') return { kind: 'pick', index: Math.min(Math.max(index, 0), count - 1) };
  return null;
}
