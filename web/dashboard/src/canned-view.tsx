// Canned responses (saved replies): the list, add / edit (a renamed shortcut is saved under the
// new one and the old one deleted), delete after a confirmation. Read again whenever the view
// opens; the composer's `/` uses the same cache.

import { useEffect, useState } from 'preact/hooks';
import type { Controller } from './controller';
import type { Key } from './i18n';
import { cannedProblems, normalShortcut } from './canned';
import { toMs } from './triage';
import type { CannedResponse } from './types';
import { denyKey } from './roles';

type T = (key: Key, vars?: Record<string, string>) => string;

type Editing = null | { old: string | null };

export function CannedManager({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [editing, setEditing] = useState<Editing>(null);
  const [shortcut, setShortcut] = useState('');
  const [text, setText] = useState('');
  const [shown, setShown] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [rowError, setRowError] = useState<{ shortcut: string; text: string } | null>(null);
  useEffect(() => {
    void ctrl.loadCanned(true);
  }, [ctrl]);

  const problems = cannedProblems(shortcut, text);
  const start = (c: CannedResponse | null) => {
    setEditing({ old: c ? c.shortcut : null });
    setShortcut(c ? c.shortcut : '');
    setText(c ? c.text : '');
    setShown(false);
    setError(null);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setShown(true);
    if (problems.length || !editing) return;
    setBusy(true);
    setError(null);
    const r = await ctrl.saveCanned(normalShortcut(shortcut), text, editing.old ?? undefined);
    setBusy(false);
    if (r) setError(t('canned_saveFailed', { a: r }));
    else setEditing(null);
  };
  const remove = async (s: string) => {
    setRowError(null);
    const r = await ctrl.deleteCanned(s);
    if (r) setRowError({ shortcut: s, text: t('canned_saveFailed', { a: r }) });
    else setDeleting(null);
  };

  if (ctrl.cannedMissing) {
    return (
      <section class="kb" data-testid="canned-manager">
        <h2>{t('canned_title')}</h2>
        <p class="kb-body hint" data-testid="canned-missing">{t('canned_missing')}</p>
      </section>
    );
  }
  const list = ctrl.canned;
  const canEdit = ctrl.may('editCanned');
  const deny = t(denyKey('editCanned'));
  return (
    <section class="kb" data-testid="canned-manager">
      <div class="kb-head">
        <h2>{t('canned_title')}</h2>
        <span class="spacer" />
        <button type="button" class="primary" data-testid="canned-add" disabled={!canEdit} title={canEdit ? undefined : deny} onClick={() => start(null)}>{t('canned_add')}</button>
      </div>
      <div class="kb-body">
        <p class="hint">{t('canned_hint')}</p>
        {!canEdit && <p class="hint read-only" data-testid="canned-read-only">{t('readOnly', { a: deny })}</p>}
        {editing && canEdit && (
          <form class="faq-form" data-testid="canned-form" data-old={editing.old ?? undefined} onSubmit={(e) => void save(e)} noValidate>
            <label class="dialog-field">
              {t('canned_shortcut')}
              <span class="shortcut-input">
                /
                <input
                  data-testid="canned-shortcut"
                  value={shortcut}
                  maxLength={33}
                  autocomplete="off"
                  aria-invalid={shown && problems.includes('canned_badShortcut')}
                  onInput={(e) => setShortcut((e.target as HTMLInputElement).value)}
                />
              </span>
            </label>
            <label class="dialog-field">
              {t('canned_text')}
              <textarea
                data-testid="canned-text"
                rows={4}
                value={text}
                aria-invalid={shown && (problems.includes('canned_needText') || problems.includes('canned_longText'))}
                onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
              />
            </label>
            {shown && problems.length > 0 && (
              <ul class="error faq-problems" role="alert" data-testid="canned-problems">
                {problems.map((p) => (
                  <li data-problem={p}>{t(p)}</li>
                ))}
              </ul>
            )}
            {error && <p class="error" role="alert" data-testid="canned-error">{error}</p>}
            <div class="dialog-actions">
              <button type="button" onClick={() => setEditing(null)}>{t('cancel')}</button>
              <button type="submit" class="primary" data-testid="canned-save" disabled={busy}>{t('canned_save')}</button>
            </div>
          </form>
        )}
        {list === null ? (
          ctrl.cannedError ? (
            <p class="error" role="alert" data-testid="canned-load-error">{t('canned_loadFailed', { a: ctrl.cannedError })}</p>
          ) : (
            <p class="hint">{t('loadingMore')}</p>
          )
        ) : list.length === 0 ? (
          <p class="hint" data-testid="canned-none">{t('canned_none')}</p>
        ) : (
          <ul class="faq-list" data-testid="canned-list">
            {list.map((c) => {
              const at = toMs(c.updated_at);
              return (
                <li class="faq-entry" data-testid="canned-entry" data-shortcut={c.shortcut}>
                  <div class="faq-q">
                    <strong class="canned-shortcut">/{c.shortcut}</strong>
                    {at !== null && <span class="hint">{new Date(at).toLocaleDateString()}</span>}
                    {c.updated_by && <span class="hint">{t('canned_by', { a: ctrl.agents.find((a) => a.id === c.updated_by)?.name ?? c.updated_by })}</span>}
                  </div>
                  <div class="faq-a">{c.text}</div>
                  {canEdit && <div class="faq-actions">
                    <button type="button" class="linkish" data-testid="canned-edit" onClick={() => start(c)}>{t('canned_edit')}</button>
                    {deleting === c.shortcut ? (
                      <>
                        <span>{t('canned_confirmDelete', { a: c.shortcut })}</span>
                        <button type="button" class="danger" data-testid="canned-delete-confirm" onClick={() => void remove(c.shortcut)}>{t('canned_delete')}</button>
                        <button type="button" onClick={() => setDeleting(null)}>{t('cancel')}</button>
                      </>
                    ) : (
                      <button type="button" class="linkish danger-link" data-testid="canned-delete" onClick={() => setDeleting(c.shortcut)}>{t('canned_delete')}</button>
                    )}
                  </div>}
                  {rowError?.shortcut === c.shortcut && <p class="error" role="alert">{rowError.text}</p>}
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </section>
  );
}
