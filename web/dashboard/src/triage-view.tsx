// The conversation's triage row under its header: team and needed skill, priority, labels
// (chips, add and remove), snooze (presets, a custom time, unsnooze), "Mark as read" and the
// customer's rating; and the compact marks of a list item (priority badge, labels, snoozed).

import { useEffect, useRef, useState } from 'preact/hooks';
import type { Controller } from './controller';
import type { Key } from './i18n';
import {
  PRIORITIES, addLabel, customSnooze, isPressing, labelsOf, localInputValue, priorityOf, snoozePresets, snoozedUntil, stars, type LabelProblem, type SnoozeProblem,
} from './triage';
import type { ConversationView, Priority } from './types';
import { Icon } from './attachment-view';

type T = (key: Key, vars?: Record<string, string>) => string;

function when(ms: number): string {
  return new Date(ms).toLocaleString([], { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** Priority badge (high, urgent), up to two labels and "+N", and a snoozed mark: for a list item. */
export function ListMarks({ conv, t, now }: { conv: ConversationView; t: T; now: number }) {
  const labels = labelsOf(conv);
  const p = priorityOf(conv);
  const snoozed = snoozedUntil(conv, now);
  if (!isPressing(conv) && labels.length === 0 && snoozed === null) return null;
  return (
    <span class="marks">
      {isPressing(conv) && (
        <span class={`prio prio-${p}`} data-testid="priority-badge" data-priority={p}>
          {t(`prio_${p}` as Key)}
        </span>
      )}
      {labels.slice(0, 2).map((l) => (
        <span class="label-chip small" data-testid="list-label">{l}</span>
      ))}
      {labels.length > 2 && <span class="label-chip small more" title={labels.slice(2).join(', ')}>+{labels.length - 2}</span>}
      {snoozed !== null && (
        <span class="snoozed-mark" data-testid="list-snoozed" title={t('snoozedUntil', { a: when(snoozed) })}>
          <Icon name="wait" size={11} /> {t('snoozedShort')}
        </span>
      )}
    </span>
  );
}

export function ConversationTools({ ctrl, conv, t, now = Date.now() }: { ctrl: Controller; conv: ConversationView; t: T; now?: number }) {
  const [error, setError] = useState<string | null>(null);
  const run = async (p: Promise<string | null>) => {
    setError(null);
    const r = await p;
    if (r) setError(r);
  };
  const resolved = conv.status === 'resolved';
  const snoozed = snoozedUntil(conv, now);
  return (
    <div class="conv-tools" data-testid="conv-tools">
      {(conv.team || conv.skill) && (
        <span class="team-info" data-testid="team-info" data-team={conv.team ?? undefined} data-skill={conv.skill ?? undefined}>
          {conv.team && t('teamInfo', { a: conv.team })}
          {conv.team && conv.skill && ' · '}
          {conv.skill && t('skillInfo', { a: conv.skill })}
        </span>
      )}
      <label class="prio-select">
        <span class="sr-only">{t('priority')}</span>
        <select data-testid="priority" aria-label={t('priority')} value={priorityOf(conv)} data-priority={priorityOf(conv)} onChange={(e) => void run(ctrl.setPriority(conv.id, (e.target as HTMLSelectElement).value as Priority))}>
          {PRIORITIES.map((p) => (
            <option value={p}>{`${t('priority')}: ${t(`prio_${p}` as Key)}`}</option>
          ))}
        </select>
      </label>
      <Labels ctrl={ctrl} conv={conv} t={t} run={run} />
      {snoozed !== null ? (
        <span class="snoozed" data-testid="snoozed" data-until={snoozed}>
          <Icon name="wait" size={13} /> {t('snoozedUntil', { a: when(snoozed) })}{' '}
          <button type="button" data-testid="unsnooze" onClick={() => void run(ctrl.unsnooze(conv.id))}>{t('unsnooze')}</button>
        </span>
      ) : (
        !resolved && <SnoozeMenu t={t} onSnooze={(until) => run(ctrl.snooze(conv.id, until))} />
      )}
      {conv.unread_count > 0 && (
        <button type="button" data-testid="mark-read" onClick={() => void run(ctrl.markRead(conv.id))}>
          {t('markRead')}
        </button>
      )}
      {conv.csat && typeof conv.csat.score === 'number' && <CsatView csat={conv.csat} t={t} />}
      {error && <span class="error" role="alert" data-testid="tools-error">{error}</span>}
    </div>
  );
}

export function CsatView({ csat, t }: { csat: { score: number; comment?: string | null }; t: T }) {
  const score = Math.min(5, Math.max(1, Math.round(csat.score)));
  return (
    <span class="csat" data-testid="csat" data-score={score} title={t('csat')}>
      <span class="stars" role="img" aria-label={`${t('csat')}: ${t('csatScore', { a: String(score) })}`}>{stars(score)}</span>
      {csat.comment && <q class="csat-comment" data-testid="csat-comment">{csat.comment}</q>}
    </span>
  );
}

function Labels({ ctrl, conv, t, run }: { ctrl: Controller; conv: ConversationView; t: T; run: (p: Promise<string | null>) => Promise<void> }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<LabelProblem | null>(null);
  const labels = labelsOf(conv);
  const known = [...new Set(Object.values(ctrl.state.conversations).flatMap(labelsOf))].filter((l) => !labels.includes(l)).sort();
  const add = (e: Event) => {
    e.preventDefault();
    if (!value.trim()) return;
    const r = addLabel(labels, value);
    if ('problem' in r) return setProblem(r.problem);
    setProblem(null);
    setValue('');
    if (r.labels.length !== labels.length) void run(ctrl.setLabels(conv.id, r.labels));
  };
  const listId = `labels-${conv.id}`;
  return (
    <span class="labels" data-testid="labels" aria-label={t('labels')}>
      {labels.map((l) => (
        <span class="label-chip" data-testid="label" data-label={l}>
          {l}
          <button type="button" aria-label={t('removeLabel', { a: l })} title={t('removeLabel', { a: l })} onClick={() => void run(ctrl.setLabels(conv.id, labels.filter((x) => x !== l)))}>
            ×
          </button>
        </span>
      ))}
      <form class="label-form" onSubmit={add}>
        <input
          data-testid="label-input"
          aria-label={t('labels')}
          placeholder={t('addLabel')}
          list={listId}
          size={8}
          value={value}
          aria-invalid={problem ? true : undefined}
          onInput={(e) => {
            setValue((e.target as HTMLInputElement).value);
            setProblem(null);
          }}
        />
        <datalist id={listId}>
          {known.map((l) => (
            <option value={l} />
          ))}
        </datalist>
      </form>
      {problem && <span class="error" role="alert" data-testid="label-error">{t(problem)}</span>}
    </span>
  );
}

/** "Snooze ▾": in an hour, tomorrow 9:00, next week, or a custom time. */
export function SnoozeMenu({ t, onSnooze, now }: { t: T; onSnooze: (until: number) => Promise<void>; now?: () => Date }) {
  const [open, setOpen] = useState(false);
  const [custom, setCustom] = useState('');
  const [problem, setProblem] = useState<SnoozeProblem | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const clock = now ?? (() => new Date());
  useEffect(() => {
    if (!open) return;
    menu.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
    const away = (e: MouseEvent) => {
      if (!menu.current?.contains(e.target as Node) && e.target !== button.current) setOpen(false);
    };
    document.addEventListener('mousedown', away);
    return () => document.removeEventListener('mousedown', away);
  }, [open]);
  const close = () => {
    setOpen(false);
    setProblem(null);
    button.current?.focus();
  };
  const choose = (until: number) => {
    close();
    void onSnooze(until);
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      close();
      return;
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const items = Array.from(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"], input') ?? []);
    const i = items.indexOf(document.activeElement as HTMLElement);
    const next = items[(i + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  };
  const p = snoozePresets(clock());
  const submitCustom = (e: Event) => {
    e.preventDefault();
    const r = customSnooze(custom, clock().getTime());
    if ('problem' in r) return setProblem(r.problem);
    choose(r.until);
  };
  return (
    <span class="snooze">
      <button type="button" ref={button} data-testid="snooze" aria-haspopup="menu" aria-expanded={open} onClick={() => (open ? close() : setOpen(true))}>
        <Icon name="wait" size={13} /> {t('snooze')} ▾
      </button>
      {open && (
        <div class="menu" role="menu" aria-label={t('snooze')} ref={menu} onKeyDown={onKey} data-testid="snooze-menu">
          <button type="button" role="menuitem" data-testid="snooze-hour" onClick={() => choose(p.hour)}>{t('snooze_hour')}</button>
          <button type="button" role="menuitem" data-testid="snooze-tomorrow" onClick={() => choose(p.tomorrow)}>{t('snooze_tomorrow')}</button>
          <button type="button" role="menuitem" data-testid="snooze-next-week" onClick={() => choose(p.nextWeek)}>{t('snooze_nextWeek')}</button>
          <form class="snooze-custom" onSubmit={submitCustom}>
            <label>
              {t('snooze_customLabel')}{' '}
              <input
                type="datetime-local"
                data-testid="snooze-custom-input"
                value={custom}
                min={localInputValue(clock().getTime())}
                onInput={(e) => {
                  setCustom((e.target as HTMLInputElement).value);
                  setProblem(null);
                }}
              />
            </label>
            <button type="submit" data-testid="snooze-custom">{t('snooze_customDo')}</button>
            {problem && <span class="error" role="alert" data-testid="snooze-error">{t(problem)}</span>}
          </form>
        </div>
      )}
    </span>
  );
}
