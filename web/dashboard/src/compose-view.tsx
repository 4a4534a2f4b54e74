// The composer's Reply / Note switch and the small list a `/` (saved replies) or an `@` (agents,
// in a note) opens above the reply box. Keys are handled by the composer (`pickerKey`); the list
// only shows the options and takes clicks. Everything is text.

import type { Key } from './i18n';

type T = (key: Key, vars?: Record<string, string>) => string;

export type ComposeMode = 'reply' | 'note';

export function ModeToggle({ mode, setMode, t }: { mode: ComposeMode; setMode: (m: ComposeMode) => void; t: T }) {
  return (
    <div class="mode-toggle" role="group" aria-label={t('composeMode')} data-testid="compose-mode" data-mode={mode}>
      {(['reply', 'note'] as const).map((m) => (
        <button type="button" class={`mode-${m}`} aria-pressed={mode === m} data-testid={`mode-${m}`} onClick={() => setMode(m)}>
          {t(m === 'reply' ? 'mode_reply' : 'mode_note')}
        </button>
      ))}
    </div>
  );
}

export interface PickerOption {
  key: string;
  label: string;
  detail?: string;
}

/** The options of a `/` or `@` picker (a listbox the reply box points at with aria-activedescendant). */
export function PickerList(props: {
  id: string;
  kind: 'canned' | 'mention';
  title: string;
  options: PickerOption[];
  index: number;
  empty: string;
  onPick: (i: number) => void;
  onHover: (i: number) => void;
}) {
  const { id, kind, options, index } = props;
  return (
    <div class={`picker picker-${kind}`} data-testid={`${kind}-picker`}>
      <div class="picker-title" id={`${id}-title`}>{props.title}</div>
      {options.length === 0 ? (
        <p class="picker-empty" data-testid={`${kind}-empty`}>{props.empty}</p>
      ) : (
        <ul role="listbox" id={id} aria-labelledby={`${id}-title`}>
          {options.map((o, i) => (
            <li
              role="option"
              id={`${id}-${i}`}
              aria-selected={i === index}
              class={i === index ? 'picker-option active' : 'picker-option'}
              data-testid={`${kind}-option`}
              data-key={o.key}
              // keep the focus in the reply box
              onMouseDown={(e) => e.preventDefault()}
              onMouseEnter={() => props.onHover(i)}
              onClick={() => props.onPick(i)}
            >
              <span class="picker-label">{o.label}</span>
              {o.detail && <span class="picker-detail">{o.detail}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
