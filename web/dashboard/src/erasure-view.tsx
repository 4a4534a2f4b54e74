// A contact's personal data in the profile (admins): *Export data* saves everything stored about
// them as a JSON file; *Erase contact…* asks first, in a dialog that says what goes for good and
// enables its button only once the contact's name (ERASE for a contact without one) is typed.
// Below admin both are disabled, saying who may. The erased conversation's place in the pane:
// `ErasedPane`. Rules: src/erasure.ts.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { Controller } from './controller';
import { useDismiss } from './dismiss';
import { contactDataError, erasePhrase, eraseConfirmed, erasureText } from './erasure';
import type { Key } from './i18n';
import { saveBlob } from './reports';
import { denyKey } from './roles';
import type { Contact } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

/** The profile's *Personal data* block: Export data, Erase contact… (and its dialog). */
export function ContactData({ ctrl, contact, t }: { ctrl: Controller; contact: Pick<Contact, 'id' | 'display_name'>; t: T }) {
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  const [asking, setAsking] = useState(false);
  const opener = useRef<HTMLButtonElement>(null);
  const mayExport = ctrl.may('exportContact');
  const mayErase = ctrl.may('eraseContact');
  const exportData = async () => {
    setExportError(null);
    setExporting(true);
    const r = await ctrl.exportContact(contact.id);
    setExporting(false);
    if (r.ok) saveBlob(r.value.blob, r.value.filename);
    else setExportError(contactDataError(t, 'export', r.status, r.message));
  };
  const erase = async (): Promise<string | null> => {
    const r = await ctrl.eraseContact(contact.id);
    return r.ok ? null : contactDataError(t, 'erase', r.status, r.message);
  };
  const close = () => {
    setAsking(false);
    if (opener.current?.isConnected) opener.current.focus();
  };
  return (
    <div class="contact-data" data-testid="contact-data">
      <h4>{t('contactData')}</h4>
      <div class="contact-data-actions">
        <button
          type="button"
          class="linkish"
          data-testid="contact-export"
          disabled={!mayExport || exporting}
          title={mayExport ? t('export_hint') : t(denyKey('exportContact'))}
          aria-description={mayExport ? undefined : t(denyKey('exportContact'))}
          onClick={() => void exportData()}
        >
          {exporting ? t('exporting') : t('export_action')}
        </button>
        <button
          type="button"
          ref={opener}
          class="linkish danger-link"
          data-testid="contact-erase"
          aria-haspopup="dialog"
          disabled={!mayErase}
          title={mayErase ? undefined : t(denyKey('eraseContact'))}
          aria-description={mayErase ? undefined : t(denyKey('eraseContact'))}
          onClick={() => {
            setExportError(null);
            setAsking(true);
          }}
        >
          {t('erase_action')}
        </button>
      </div>
      {exportError && <p class="error" role="alert" data-testid="contact-export-error">{exportError}</p>}
      {asking && <EraseDialog name={contact.display_name} t={t} erase={erase} onClose={close} />}
    </div>
  );
}

/** `text` around its `{a}`: what comes before and after it (the phrase is put there in bold). */
function around(t: T, key: Key): [string, string] {
  const mark = '\u0001';
  const [before, after = ''] = t(key, { a: mark }).split(mark);
  return [before, after];
}

/**
 * The erasure's confirmation. `erase` resolves to null when erased (the dialog closes; the
 * conversation is gone with it), else to what to say (nothing was removed). Escape, a press
 * outside it or Cancel closes it, except while the erasure is under way.
 */
export function EraseDialog({ name, t, erase, onClose }: { name: string; t: T; erase: () => Promise<string | null>; onClose: () => void }) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);
  useDismiss(!busy, onClose, box);
  useEffect(() => input.current?.focus(), []);
  const phrase = erasePhrase(name);
  const confirmed = eraseConfirmed(typed, name);
  const [before, after] = around(t, 'erase_type');
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!confirmed || busy) return;
    setBusy(true);
    setError(null);
    const refused = await erase();
    setBusy(false);
    if (refused === null) onClose();
    else setError(refused);
  };
  const titled = name.trim() !== '';
  return (
    <div class="dialog-backdrop">
      <div
        class="dialog erase-dialog"
        ref={box}
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="erase-title"
        aria-describedby="erase-what"
        data-testid="erase-dialog"
      >
        <form onSubmit={(e) => void submit(e)} noValidate>
          <h2 id="erase-title">{titled ? t('erase_title', { a: name }) : t('erase_titleUnnamed')}</h2>
          <div id="erase-what" class="erase-what" data-testid="erase-what">
            <p>{t('erase_what')}</p>
            <ul>
              <li>{t('erase_whatContact')}</li>
              <li>{t('erase_whatConversations')}</li>
              <li>{t('erase_whatFiles')}</li>
            </ul>
            <p>
              <strong>{t('erase_audit')}</strong>
            </p>
          </div>
          <p class="hint">{t('erase_exportFirst')}</p>
          <label class="dialog-field">
            <span>
              {before}
              <strong class="erase-phrase" data-testid="erase-phrase">{phrase}</strong>
              {after}
            </span>
            <input
              ref={input}
              data-testid="erase-input"
              autocomplete="off"
              autocapitalize="off"
              spellcheck={false}
              value={typed}
              disabled={busy}
              onInput={(e) => {
                setTyped((e.target as HTMLInputElement).value);
                setError(null);
              }}
            />
          </label>
          {error && <p class="error" role="alert" data-testid="erase-error">{error}</p>}
          <div class="dialog-actions">
            <button type="button" data-testid="erase-cancel" disabled={busy} onClick={onClose}>{t('cancel')}</button>
            <button type="submit" class="danger" data-testid="erase-do" disabled={!confirmed || busy}>{busy ? t('erasing') : t('erase_do')}</button>
          </div>
        </form>
      </div>
    </div>
  );
}

/** Where the open conversation was, once it was erased: a neutral notice (and, for who erased it, what went). */
export function ErasedPane({ ctrl, t }: { ctrl: Controller; t: T }) {
  const n = ctrl.erased;
  if (!n) return null;
  return (
    <section class="pane empty erased" data-testid="conversation-erased" role="status">
      <button type="button" class="back" data-testid="erased-back" aria-label={t('backToList')} title={t('backToList')} onClick={() => ctrl.dismissErased()}>
        ←
      </button>
      {n.conversationId !== null && (
        <p class="erased-notice" data-testid="erased-notice">{t('conversationErased')}</p>
      )}
      {n.conversationId !== null && !n.mine && <p class="hint">{t('conversationErasedWhy')}</p>}
      {n.mine && (
        <p class="ok-line" data-testid="erase-done">
          ✓ {erasureText(t, n.counts)}
        </p>
      )}
    </section>
  );
}
