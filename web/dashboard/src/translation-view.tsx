// Translation in the view: a customer's message shown in a language the agent reads, what our
// reply was sent as (or why it is held), the composer's preview, the customer's language in the
// header, the agent's own languages, and the deployment's notices (detection only, quota).
// Translated text is customer text like any other: JSX text children only, never markup.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import type { Key } from './i18n';
import {
  COMMON_LANGUAGES, inboundDisplay, languageName, languageOptions, languagesPayload, outboundDisplay, ownLanguage, previewShown, primary,
  providerName, reachedQuotas, readLanguages, sameLanguage, uniqueLanguages, type PreviewShown, type TranslationMarker,
} from './translation';
import type { Agent, Message, TranslationPreview as Preview, TranslationSetup } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;
type Reader = Pick<Agent, 'language' | 'languages'>;

/** "Russian (ru)", in the UI language. */
export function languageLabel(t: T, tag: string): string {
  const name = languageName(t('locale'), tag);
  return name === tag ? tag : `${name} (${tag})`;
}

function byLabel(t: T, tags: string[]): string[] {
  const locale = t('locale');
  return [...tags].sort((a, b) => languageLabel(t, a).localeCompare(languageLabel(t, b), locale));
}

/** "Translating…" or "Translation failed…" under a text. */
function Marker({ marker, t }: { marker: TranslationMarker; t: T }) {
  if (marker.kind === 'pending') {
    return (
      <div class="tr-marker" data-testid="translation-state" data-state="pending">
        {t('tr_pending')}
      </div>
    );
  }
  return (
    <div class="tr-marker tr-failed" data-testid="translation-state" data-state="failed" data-retrying={String(marker.retrying)}>
      {failedText(t, marker.reason, marker.retrying)}
    </div>
  );
}

function failedText(t: T, reason: string, retrying: boolean): string {
  if (retrying) return t('tr_failedRetrying');
  return reason ? t('tr_failed', { a: reason }) : t('tr_failedNoReason');
}

/**
 * The text of a customer's message. In a language the agent does not read and translated into
 * one they do: the translation, with "Translated from Russian · DeepL · Show original" (the
 * button swaps in the original and back). Otherwise the original, with a marker while its
 * translation is pending or failed.
 */
export function InboundText({ m, reader, t }: { m: Message; reader: Reader; t: T }) {
  const [original, setOriginal] = useState(false);
  if (!m.text) return null;
  const d = inboundDisplay(m, reader);
  if (d.show === 'original') {
    return (
      <>
        <div class="text" data-testid="message-text" data-shown="original" lang={m.language ?? undefined}>
          {m.text}
        </div>
        {d.marker && <Marker marker={d.marker} t={t} />}
      </>
    );
  }
  const from = d.from ? languageName(t('locale'), d.from) : null;
  return (
    <>
      <div class="text" data-testid="message-text" data-shown={original ? 'original' : 'translation'} lang={original ? m.language ?? undefined : d.translation.language}>
        {original ? m.text : d.translation.text}
      </div>
      <div class="tr-line" data-testid="translation-line">
        {original
          ? from ? t('tr_originalIn', { a: from }) : t('tr_originalUnknown')
          : `${from ? t('tr_from', { a: from }) : t('tr_fromUnknown')} · ${providerName(d.translation.provider)}`}
        {' · '}
        <button type="button" class="linkish" data-testid="translation-toggle" onClick={() => setOriginal(!original)}>
          {original ? t('tr_showTranslation') : t('tr_showOriginal')}
        </button>
      </div>
    </>
  );
}

export interface HeldActions {
  /** Each resolves to null when done, else the reason it was refused. */
  sendOriginal: () => Promise<string | null>;
  retry: () => Promise<string | null>;
}

/**
 * Under our reply's text: "Sent in Russian: …" (folds away), "Translating before sending…",
 * "Sent untranslated", or — a failed translation the server does not retry — the reason and
 * the agent's two ways out: send the original, or retry the translation.
 */
export function OutboundTranslation({ m, t, actions }: { m: Message; t: T; actions: HeldActions }) {
  const [open, setOpen] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const d = outboundDisplay(m);
  const name = (tag: string) => languageName(t('locale'), tag);
  switch (d.show) {
    case 'sent':
      return (
        <div class="tr-sent" data-testid="translation-sent" data-language={d.language}>
          <button type="button" class="linkish tr-sent-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
            {t('tr_sentIn', { a: name(d.language) })}
          </button>
          {open && (
            <div class="text tr-sent-text" data-testid="translation-sent-text" lang={d.language}>
              {d.translation.text}
            </div>
          )}
        </div>
      );
    case 'pending':
      return (
        <div class="tr-marker" data-testid="translation-state" data-state="pending">
          {t('tr_sendingHeld')}
        </div>
      );
    case 'original':
      return (
        <div class="tr-marker" data-testid="translation-state" data-state="sent_original">
          {t('tr_sentOriginal')}
        </div>
      );
    case 'failed': {
      if (d.retrying) {
        return (
          <div class="tr-marker tr-failed" data-testid="translation-state" data-state="failed" data-retrying="true">
            {t('tr_failedRetrying')}
          </div>
        );
      }
      const run = async (action: () => Promise<string | null>) => {
        setBusy(true);
        setError(null);
        const refused = await action();
        setBusy(false);
        if (refused !== null) setError(t('tr_actionFailed', { a: refused }));
      };
      return (
        <div class="tr-held" data-testid="translation-held" data-state="failed" data-retrying="false">
          <span class="tr-failed">{failedText(t, d.reason, false)}</span>
          <span class="tr-held-actions">
            <button type="button" data-testid="send-original" disabled={busy} onClick={() => void run(actions.sendOriginal)}>
              {t('tr_sendOriginal')}
            </button>
            <button type="button" data-testid="retry-translation" disabled={busy} onClick={() => void run(actions.retry)}>
              {t('tr_retry')}
            </button>
          </span>
          {error && (
            <p class="error" role="alert" data-testid="translation-action-error">
              {error}
            </p>
          )}
        </div>
      );
    }
    default:
      return null;
  }
}

type PreviewState = { for: string; shown: PreviewShown } | null;

/**
 * "The customer will receive (Russian): …" under the composer: the draft's translation,
 * asked for `delay` ms after the typing stops. A newer draft cancels the request on its way and
 * a late answer for an older draft is dropped; the last preview stays (dimmed) until the new
 * one comes. Nothing when `active` is false, the draft is empty, or no translation is needed.
 */
export function TranslationPreviewView(props: {
  text: string;
  /** The customer's language (a change asks again). */
  language: string | null | undefined;
  active: boolean;
  load: (text: string, signal: AbortSignal) => Promise<Preview>;
  t: T;
  delay?: number;
}) {
  const { t, active } = props;
  const [preview, setPreview] = useState<PreviewState>(null);
  const load = useRef(props.load);
  load.current = props.load;
  const text = props.text.trim();
  useEffect(() => {
    if (!active || !text) {
      setPreview(null);
      return;
    }
    const abort = new AbortController();
    let live = true;
    const timer = setTimeout(() => {
      load.current(text, abort.signal).then(
        (p) => live && setPreview({ for: text, shown: previewShown(p) }),
        (e: unknown) => {
          if (!live) return;
          // A server without previews (404) or no connection: no preview, and nothing to say.
          if (e instanceof ApiError && e.status !== 404) setPreview({ for: text, shown: { language: props.language ?? '', error: e.message } });
          else setPreview(null);
        },
      );
    }, props.delay ?? 400);
    return () => {
      live = false;
      clearTimeout(timer);
      abort.abort();
    };
  }, [text, active, props.language]);
  if (!active || !text || !preview?.shown) return null;
  const shown = preview.shown;
  const language = shown.language || props.language || '';
  return (
    <div class="tr-preview" data-testid="translation-preview" data-stale={preview.for === text ? undefined : 'true'} aria-live="polite">
      <span class="tr-preview-head">{t('tr_preview', { a: languageName(t('locale'), language) })}</span>{' '}
      {'text' in shown ? (
        <span class="text tr-preview-text" data-testid="translation-preview-text" lang={language || undefined}>
          {shown.text}
        </span>
      ) : (
        <span class="error" data-testid="translation-preview-error">
          {t('tr_previewFailed', { a: shown.error })}
        </span>
      )}
    </div>
  );
}

/**
 * The customer's language in the conversation header, as a small select: the agent overrides
 * a wrong detection. Options: the current language, the agent's, and a short common list.
 */
export function ConversationLanguage(props: { language: string | null | undefined; reader: Reader; setup: TranslationSetup | null; t: T; onChange: (language: string) => Promise<void> }) {
  const { t } = props;
  const [busy, setBusy] = useState<string | null>(null);
  const current = busy ?? props.language ?? '';
  const options = byLabel(t, languageOptions(props.reader, current || null));
  const title = props.setup && !props.setup.enabled ? `${t('customerLanguage')}\n${t('tr_off')}` : t('customerLanguage');
  const change = async (e: Event) => {
    const v = (e.target as HTMLSelectElement).value;
    if (!v || v === props.language) return;
    setBusy(v);
    try {
      await props.onChange(v);
    } finally {
      setBusy(null);
    }
  };
  return (
    <select
      class="lang-badge"
      data-testid="conversation-language"
      data-language={props.language ?? undefined}
      aria-label={t('tr_overrideLabel')}
      title={title}
      value={current}
      disabled={busy !== null}
      onChange={(e) => void change(e)}
    >
      {!current && (
        <option value="" disabled>
          {t('tr_languageUnknown')}
        </option>
      )}
      {options.map((tag) => (
        <option value={tag}>{languageLabel(t, tag)}</option>
      ))}
    </select>
  );
}

/** "Daily translation quota reached for DeepL", one line per provider whose quota is used up. */
export function QuotaNotice({ setup, t }: { setup: TranslationSetup | null; t: T }) {
  const reached = reachedQuotas(setup);
  if (!reached.length) return null;
  return (
    <div class="notice tr-quota" role="status" data-testid="translation-quota">
      {reached.map((p) => (
        <div data-provider={p}>{t('tr_quota', { a: providerName(p) })}</div>
      ))}
    </div>
  );
}

/**
 * "My languages": a header button opening a small dialog with the agent's own language and
 * the others they read, saved with `PUT /api/v1/agents/me/languages`. It also says, when the
 * deployment translates nothing, that only detection is on.
 */
export function MyLanguages({ me, setup, t, onSave }: { me: Reader; setup: TranslationSetup | null; t: T; onSave: (language: string, reads: string[]) => Promise<string | null> }) {
  const [open, setOpen] = useState(false);
  const opener = useRef<HTMLButtonElement>(null);
  const close = () => {
    setOpen(false);
    opener.current?.focus();
  };
  return (
    <>
      <button type="button" ref={opener} class="my-languages" data-testid="my-languages" aria-haspopup="dialog" title={readLanguages(me).join(', ')} onClick={() => setOpen(true)}>
        {t('myLanguages')}
      </button>
      {open && <LanguagesDialog me={me} setup={setup} t={t} onSave={onSave} onClose={close} />}
    </>
  );
}

function LanguagesDialog({ me, setup, t, onSave, onClose }: { me: Reader; setup: TranslationSetup | null; t: T; onSave: (language: string, reads: string[]) => Promise<string | null>; onClose: () => void }) {
  const [own, setOwn] = useState(() => ownLanguage(me));
  const [reads, setReads] = useState<string[]>(() => (me.languages ?? []).filter((l) => !sameLanguage(l, ownLanguage(me))));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const first = useRef<HTMLSelectElement>(null);
  useEffect(() => {
    first.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      e.stopPropagation();
      onClose();
    };
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
  }, []);
  const all = byLabel(t, uniqueLanguages([...readLanguages(me), ...COMMON_LANGUAGES]));
  const others = all.filter((l) => !sameLanguage(l, own));
  const reading = (tag: string) => reads.some((r) => sameLanguage(r, tag));
  const toggle = (tag: string) => setReads(reading(tag) ? reads.filter((r) => !sameLanguage(r, tag)) : [...reads, tag]);
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = languagesPayload(own, reads);
    const refused = await onSave(body.language, body.reads);
    setBusy(false);
    if (refused === null) onClose();
    else setError(t('saveFailed', { a: refused }));
  };
  return (
    <div class="dialog-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="my-languages-title" data-testid="languages-dialog">
        <form onSubmit={(e) => void save(e)}>
          <h2 id="my-languages-title">{t('myLanguages')}</h2>
          <p class="hint">{t('myLanguagesHint')}</p>
          {setup && !setup.enabled && (
            <p class="notice" data-testid="translation-off">
              {t('tr_off')}
            </p>
          )}
          <label class="dialog-field">
            {t('myOwnLanguage')}
            <select ref={first} data-testid="own-language" value={own} onChange={(e) => setOwn((e.target as HTMLSelectElement).value)}>
              {all.map((tag) => (
                <option value={tag}>{languageLabel(t, tag)}</option>
              ))}
            </select>
          </label>
          <fieldset class="dialog-field reads" data-testid="also-reads">
            <legend>{t('alsoRead')}</legend>
            {others.map((tag) => (
              <label class="read-option" data-language={tag} data-primary={primary(tag)}>
                <input type="checkbox" checked={reading(tag)} onChange={() => toggle(tag)} /> {languageLabel(t, tag)}
              </label>
            ))}
          </fieldset>
          {error && (
            <p class="error" role="alert" data-testid="languages-error">
              {error}
            </p>
          )}
          <div class="dialog-actions">
            <button type="button" data-testid="languages-cancel" onClick={onClose} disabled={busy}>
              {t('cancel')}
            </button>
            <button type="submit" class="primary" data-testid="languages-save" disabled={busy}>
              {busy ? t('saving') : t('save')}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
