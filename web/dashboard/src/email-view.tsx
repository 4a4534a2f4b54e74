// How an e-mail reads in the timeline: its subject line, the new text (as every message), the
// quoted history folded away, and the formatted (HTML) version on demand. The HTML is the one
// thing of a customer's that is ever rendered as markup, and only inside an <iframe> with an
// empty `sandbox` (no script, no same-origin, no forms, no popups, no navigation of the page)
// under a CSP that fetches nothing; the rest of the page never parses it.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import { emailRef, emailSrcdoc, type EmailHead } from './email';
import type { Key } from './i18n';
import type { Message } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

/** The subject of an e-mail, where a thread starts or its subject changes. */
export function EmailSubject({ head, t }: { head: EmailHead | undefined; t: T }) {
  if (!head?.subject) return null;
  return (
    <div class="email-subject" data-testid="email-subject" title={t('emailSubject')}>
      {head.subject}
    </div>
  );
}

/** The customer's address in the message head: "<bob@x>" on theirs, "to bob@x" on ours. */
export function EmailAddress({ head, t }: { head: EmailHead | undefined; t: T }) {
  if (!head?.address) return null;
  return (
    <span class="email-address" data-testid="email-address" data-direction={head.direction}>
      {head.direction === 'to' ? t('emailTo', { a: head.address }) : `<${head.address}>`}
    </span>
  );
}

/** "Automatic" on a mail its sender's system marked automatic (nothing automatic answers it). */
export function EmailAutomatic({ m, t }: { m: Message; t: T }) {
  const why = emailRef(m)?.automatic;
  if (!why) return null;
  return (
    <div class="email-automatic" data-testid="email-automatic" title={why}>
      {t('emailAutomatic')} · {why}
    </div>
  );
}

/**
 * Below an e-mail's text: "••• Show quoted text" (the history and signature, folded by
 * default) and "View formatted e-mail" when the mail had an HTML body.
 */
export function EmailExtras({ m, t, loadHtml }: { m: Message; t: T; loadHtml: (messageId: string) => Promise<string> }) {
  const r = emailRef(m);
  const [quoted, setQuoted] = useState(false);
  const [formatted, setFormatted] = useState(false);
  if (!r) return null;
  const hasQuote = !!r.quoted?.trim();
  if (!hasQuote && !r.html) return null;
  return (
    <div class="email-extras">
      <div class="email-actions">
        {hasQuote && (
          <button type="button" class="email-fold" data-testid="quoted-toggle" aria-expanded={quoted} onClick={() => setQuoted(!quoted)}>
            <span class="dots" aria-hidden="true">•••</span> {quoted ? t('emailHideQuoted') : t('emailShowQuoted')}
          </button>
        )}
        {r.html && (
          <button type="button" class="linkish email-formatted" data-testid="email-formatted" aria-haspopup="dialog" onClick={() => setFormatted(true)}>
            {t('emailFormatted')}
          </button>
        )}
      </div>
      {quoted && hasQuote && (
        <pre class="email-quoted" data-testid="quoted-text">
          {r.quoted}
        </pre>
      )}
      {formatted && <FormattedEmail title={r.subject || t('emailFormattedTitle')} load={() => loadHtml(m.id)} t={t} onClose={() => setFormatted(false)} />}
    </div>
  );
}

type Loaded = { state: 'loading' } | { state: 'ok'; html: string } | { state: 'error'; message: string };

/** The formatted e-mail over the page, in a sandboxed frame: Esc, × or a click beside it closes. */
export function FormattedEmail({ title, load, t, onClose }: { title: string; load: () => Promise<string>; t: T; onClose: () => void }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    let live = true;
    load().then(
      (html) => live && setLoaded({ state: 'ok', html }),
      (e: unknown) =>
        live &&
        setLoaded({
          state: 'error',
          message:
            e instanceof ApiError && e.status === 404
              ? t('emailNoHtml')
              : t('emailHtmlFailed', { a: e instanceof Error ? e.message : String(e) }),
        }),
    );
    return () => {
      live = false;
    };
  }, []);
  useEffect(() => {
    const back = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      e.stopPropagation();
      onClose();
    };
    document.addEventListener('keydown', onKey, true);
    return () => {
      document.removeEventListener('keydown', onKey, true);
      back?.focus?.();
    };
  }, []);
  return (
    <div class="email-dialog" role="dialog" aria-modal="true" aria-label={title} data-testid="email-dialog" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="email-sheet">
        <div class="email-sheet-head">
          <strong>{title}</strong>
          <button type="button" ref={closeRef} class="email-close" data-testid="email-dialog-close" aria-label={t('close')} onClick={onClose}>
            ×
          </button>
        </div>
        {loaded.state === 'ok' ? (
          <iframe class="email-frame" data-testid="email-frame" sandbox="" referrerpolicy="no-referrer" title={title} srcdoc={emailSrcdoc(loaded.html)} />
        ) : loaded.state === 'error' ? (
          <p class="error email-sheet-msg" role="alert" data-testid="email-html-error">
            {loaded.message}
          </p>
        ) : (
          <p class="hint email-sheet-msg" data-testid="email-html-loading">
            {t('emailLoading')}
          </p>
        )}
      </div>
    </div>
  );
}
