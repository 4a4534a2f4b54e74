// The knowledge base view: the AI's mode, the FAQ editor (search, add, edit, enable/disable,
// delete; paged, so a few thousand entries stay quick) and the AI review (the call log, each row
// opening to the prompt and the answer). Everything from the server is JSX text, never markup.

import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Controller } from './controller';
import type { Key } from './i18n';
import {
  EMPTY_FORM, byUpdated, faqInput, faqProblems, filterFaq, formOf, formatCost, formatLatency, formatTokens, pageOf, upsertEntry, type FaqForm,
} from './ai';
import type { AiCall, AiSetup, FaqEntry } from './types';
import { denyKey } from './roles';

type T = (key: Key, vars?: Record<string, string>) => string;

export const FAQ_PAGE = 50;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** "AI: knowledge base only · 12 entries", "AI: openai (gpt-4o-mini) · 12 entries", "AI: off". */
export function AiMode({ ai, t }: { ai: AiSetup; t: T }) {
  const name = ai.provider === 'kb' ? t('ai_provider_kb') : ai.provider === 'off' ? t('ai_provider_off') : ai.provider;
  return (
    <span class={`ai-mode ai-${ai.provider}`} data-testid="ai-mode" data-provider={ai.provider}>
      {ai.model ? t('ai_modeModel', { a: name, b: ai.model }) : t('ai_mode', { a: name })}
      {' · '}
      {t('ai_entries', { a: String(ai.faq_entries) })}
    </span>
  );
}

export function KnowledgeBase({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [tab, setTab] = useState<'faq' | 'calls'>(ctrl.callsFor ? 'calls' : 'faq');
  useEffect(() => {
    if (ctrl.callsFor) setTab('calls');
  }, [ctrl.callsFor]);
  // Every call: supervisors and admins; anyone: one conversation's (opened from it).
  const callsAllowed = ctrl.callsFor !== null || ctrl.may('allAiCalls');
  return (
    <section class="kb" data-testid="knowledge-base">
      <div class="kb-head">
        <h2>{t('kb_title')}</h2>
        {ctrl.ai && <AiMode ai={ctrl.ai} t={t} />}
        <span class="spacer" />
        <div class="kb-tabs" role="tablist">
          <button role="tab" aria-selected={tab === 'faq'} class={tab === 'faq' ? 'tab active' : 'tab'} data-testid="kb-tab-faq" onClick={() => setTab('faq')}>
            {t('kb_tabFaq')}
          </button>
          <button
            role="tab"
            aria-selected={tab === 'calls'}
            class={tab === 'calls' ? 'tab active' : 'tab'}
            data-testid="kb-tab-calls"
            disabled={!callsAllowed}
            title={callsAllowed ? undefined : t(denyKey('allAiCalls'))}
            onClick={() => setTab('calls')}
          >
            {t('kb_tabCalls')}
          </button>
        </div>
      </div>
      {tab === 'faq' || !callsAllowed ? <FaqEditor ctrl={ctrl} t={t} /> : <AiCalls ctrl={ctrl} t={t} />}
    </section>
  );
}

type Editing = null | { id: string | null };

export function FaqEditor({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [entries, setEntries] = useState<FaqEntry[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const [page, setPage] = useState(0);
  const [editing, setEditing] = useState<Editing>(null);
  const [form, setForm] = useState<FaqForm>(EMPTY_FORM);
  const [shown, setShown] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [rowError, setRowError] = useState<{ id: string; text: string } | null>(null);

  useEffect(() => {
    let live = true;
    ctrl.api.faqList().then(
      (r) => live && setEntries(Array.isArray(r?.entries) ? r.entries : []),
      (e) => live && setLoadError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [ctrl]);

  const matching = useMemo(() => filterFaq(entries ?? [], query).sort(byUpdated), [entries, query]);
  const canEdit = ctrl.may('editFaq');
  const deny = t(denyKey('editFaq'));
  const view = pageOf(matching, page, FAQ_PAGE);
  const problems = faqProblems(form);

  const startEdit = (e: FaqEntry | null) => {
    setEditing({ id: e ? e.id : null });
    setForm(e ? formOf(e) : EMPTY_FORM);
    setShown(false);
    setServerError(null);
  };
  const saved = (e: FaqEntry) => {
    setEntries((list) => upsertEntry(list ?? [], e));
    void ctrl.loadAi(); // the entry count in the header
  };
  const save = async (ev: Event) => {
    ev.preventDefault();
    setShown(true);
    if (problems.length || !editing) return;
    setBusy(true);
    setServerError(null);
    try {
      const body = faqInput(form);
      const e = editing.id ? await ctrl.api.faqUpdate(editing.id, body) : await ctrl.api.faqCreate(body);
      if (e && typeof e === 'object' && 'id' in e) saved(e);
      setEditing(null);
      if (!editing.id) {
        setQuery('');
        setPage(0);
      }
    } catch (e) {
      setServerError(t('faq_saveFailed', { a: errorText(e) }));
    } finally {
      setBusy(false);
    }
  };
  const toggle = async (e: FaqEntry) => {
    setRowError(null);
    try {
      const next = await ctrl.api.faqUpdate(e.id, { questions: e.questions, answer: e.answer, language: e.language, enabled: !e.enabled });
      saved(next && typeof next === 'object' && 'id' in next ? next : { ...e, enabled: !e.enabled });
    } catch (err) {
      setRowError({ id: e.id, text: t('faq_saveFailed', { a: errorText(err) }) });
    }
  };
  const remove = async (id: string) => {
    setRowError(null);
    try {
      await ctrl.api.faqDelete(id);
      setEntries((list) => (list ?? []).filter((x) => x.id !== id));
      setDeleting(null);
      void ctrl.loadAi();
    } catch (err) {
      setRowError({ id, text: t('faq_saveFailed', { a: errorText(err) }) });
    }
  };

  if (loadError) {
    return (
      <p class="error kb-body" role="alert" data-testid="faq-load-error">
        {t('faq_loadFailed', { a: loadError })}
      </p>
    );
  }
  return (
    <div class="kb-body faq" data-testid="faq-editor">
      <div class="faq-bar">
        <input
          type="search"
          data-testid="faq-search"
          placeholder={t('faq_search')}
          aria-label={t('faq_search')}
          value={query}
          onInput={(e) => {
            setQuery((e.target as HTMLInputElement).value);
            setPage(0);
          }}
        />
        <button type="button" class="primary" data-testid="faq-add" disabled={!canEdit} title={canEdit ? undefined : deny} onClick={() => startEdit(null)}>
          {t('faq_add')}
        </button>
        {entries && (
          <span class="hint" data-testid="faq-count">
            {t('faq_count', { a: String(matching.length), b: String(entries.length) })}
          </span>
        )}
      </div>
      {!canEdit && (
        <p class="hint read-only" data-testid="faq-read-only">
          {t('readOnly', { a: deny })}
        </p>
      )}
      {editing && canEdit && (
        <form class="faq-form" data-testid="faq-form" data-id={editing.id ?? undefined} onSubmit={(e) => void save(e)} noValidate>
          <label class="dialog-field">
            {t('faq_questions')}
            <textarea data-testid="faq-questions" rows={3} value={form.questions} aria-invalid={shown && problems.includes('faq_needQuestion')} onInput={(e) => setForm({ ...form, questions: (e.target as HTMLTextAreaElement).value })} />
          </label>
          <label class="dialog-field">
            {t('faq_answer')}
            <textarea data-testid="faq-answer" rows={4} value={form.answer} aria-invalid={shown && problems.includes('faq_needAnswer')} onInput={(e) => setForm({ ...form, answer: (e.target as HTMLTextAreaElement).value })} />
          </label>
          <div class="faq-form-row">
            <label class="dialog-field">
              {t('faq_language')}
              <input data-testid="faq-language" value={form.language} size={8} list="faq-languages" aria-invalid={shown && problems.includes('faq_badLanguage')} onInput={(e) => setForm({ ...form, language: (e.target as HTMLInputElement).value })} />
              <datalist id="faq-languages">
                {['en', 'de', 'fr', 'es', 'pt', 'it', 'nl', 'ru', 'uk', 'pl', 'tr', 'ar', 'zh', 'ja', 'ko'].map((l) => (
                  <option value={l} />
                ))}
              </datalist>
            </label>
            <label class="faq-enabled">
              <input type="checkbox" data-testid="faq-enabled" checked={form.enabled} onChange={(e) => setForm({ ...form, enabled: (e.target as HTMLInputElement).checked })} /> {t('faq_enabled')}
            </label>
          </div>
          {shown && problems.length > 0 && (
            <ul class="error faq-problems" role="alert" data-testid="faq-problems">
              {problems.map((p) => (
                <li data-problem={p}>{t(p)}</li>
              ))}
            </ul>
          )}
          {serverError && (
            <p class="error" role="alert" data-testid="faq-server-error">
              {serverError}
            </p>
          )}
          <div class="dialog-actions">
            <button type="button" data-testid="faq-cancel" disabled={busy} onClick={() => setEditing(null)}>
              {t('cancel')}
            </button>
            <button type="submit" class="primary" data-testid="faq-save" disabled={busy}>
              {busy ? t('saving') : t('save')}
            </button>
          </div>
        </form>
      )}
      {entries === null ? (
        <p class="hint">{t('loadingMore')}</p>
      ) : matching.length === 0 ? (
        <p class="hint" data-testid="faq-none">{entries.length === 0 ? (canEdit ? t('faq_empty') : t('faq_emptyReadOnly')) : t('faq_noMatch')}</p>
      ) : (
        <ul class="faq-list" data-testid="faq-list">
          {view.items.map((e) => (
            <li key={e.id} class={e.enabled ? 'faq-entry' : 'faq-entry off'} data-testid="faq-entry" data-id={e.id} data-enabled={String(e.enabled)}>
              <div class="faq-q">
                <strong data-testid="faq-question">{e.questions[0] ?? ''}</strong>
                {e.questions.length > 1 && (
                  <span class="hint" title={e.questions.slice(1).join('\n')}>
                    {' '}
                    {t('faq_variants', { a: String(e.questions.length - 1) })}
                  </span>
                )}
                {e.language && <span class="lang-badge">{e.language}</span>}
                <span class={e.enabled ? 'faq-state on' : 'faq-state'} data-testid="faq-state">
                  {e.enabled ? t('faq_enabled') : t('faq_disabled')}
                </span>
              </div>
              <div class="faq-a" data-testid="faq-answer-text">{e.answer}</div>
              {canEdit && <div class="faq-actions">
                <button type="button" class="linkish" data-testid="faq-edit" onClick={() => startEdit(e)}>
                  {t('faq_edit')}
                </button>
                <button type="button" class="linkish" data-testid="faq-toggle" onClick={() => void toggle(e)}>
                  {e.enabled ? t('faq_disable') : t('faq_enable')}
                </button>
                {deleting === e.id ? (
                  <>
                    <span>{t('faq_deleteConfirm')}</span>
                    <button type="button" class="danger" data-testid="faq-delete-confirm" onClick={() => void remove(e.id)}>
                      {t('faq_delete')}
                    </button>
                    <button type="button" data-testid="faq-delete-cancel" onClick={() => setDeleting(null)}>
                      {t('cancel')}
                    </button>
                  </>
                ) : (
                  <button type="button" class="linkish danger-link" data-testid="faq-delete" onClick={() => setDeleting(e.id)}>
                    {t('faq_delete')}
                  </button>
                )}
              </div>}
              {rowError?.id === e.id && (
                <p class="error" role="alert" data-testid="faq-row-error">
                  {rowError.text}
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
      {view.pages > 1 && (
        <div class="faq-pager" data-testid="faq-pager">
          <button type="button" data-testid="faq-prev" disabled={view.page === 0} onClick={() => setPage(view.page - 1)}>
            {t('faq_prev')}
          </button>
          <span>{t('faq_page', { a: String(view.page + 1), b: String(view.pages) })}</span>
          <button type="button" data-testid="faq-next" disabled={view.page >= view.pages - 1} onClick={() => setPage(view.page + 1)}>
            {t('faq_next')}
          </button>
        </div>
      )}
    </div>
  );
}

export function AiCalls({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [calls, setCalls] = useState<AiCall[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const only = ctrl.callsFor;
  useEffect(() => {
    let live = true;
    setCalls(null);
    setError(null);
    ctrl.api.aiCalls(50, only ?? undefined).then(
      (r) => live && setCalls(Array.isArray(r?.calls) ? r.calls : []),
      (e) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [ctrl, only, reload]);
  const nameOf = (id: string) => ctrl.state.conversations[id]?.contact.display_name ?? id;
  return (
    <div class="kb-body calls" data-testid="ai-review">
      <div class="faq-bar">
        {only && (
          <span class="calls-filter" data-testid="calls-filter">
            {t('calls_filtered', { a: nameOf(only) })}{' '}
            {ctrl.may('allAiCalls') && (
              <button type="button" class="linkish" data-testid="calls-all" onClick={() => ctrl.showCalls(null)}>
                {t('calls_all')}
              </button>
            )}
          </span>
        )}
        <span class="spacer" />
        <button type="button" data-testid="calls-reload" onClick={() => setReload((n) => n + 1)}>
          {t('calls_reload')}
        </button>
      </div>
      {error ? (
        <p class="error" role="alert" data-testid="calls-error">
          {t('calls_loadFailed', { a: error })}
        </p>
      ) : calls === null ? (
        <p class="hint">{t('loadingMore')}</p>
      ) : calls.length === 0 ? (
        <p class="hint" data-testid="calls-none">{t('calls_empty')}</p>
      ) : (
        <table class="calls-table" data-testid="ai-calls">
          <thead>
            <tr>
              <th>{t('calls_time')}</th>
              <th>{t('calls_conversation')}</th>
              <th>{t('calls_kind')}</th>
              <th>{t('calls_model')}</th>
              <th>{t('calls_outcome')}</th>
              <th class="num">{t('calls_tokens')}</th>
              <th class="num">{t('calls_cost')}</th>
              <th class="num">{t('calls_latency')}</th>
            </tr>
          </thead>
          {calls.map((c) => {
            const expanded = open === c.id;
            return (
              <tbody key={c.id} class={expanded ? 'open' : undefined}>
                <tr
                  class="call-row"
                  data-testid="ai-call"
                  data-id={c.id}
                  data-outcome={c.outcome}
                  tabIndex={0}
                  aria-expanded={expanded}
                  onClick={() => setOpen(expanded ? null : c.id)}
                  onKeyDown={(e) => {
                    if (e.key === 'Enter' || e.key === ' ') {
                      e.preventDefault();
                      setOpen(expanded ? null : c.id);
                    }
                  }}
                >
                  <td>
                    <time dateTime={c.at}>{new Date(c.at).toLocaleString(t('locale'), { dateStyle: 'short', timeStyle: 'medium' })}</time>
                  </td>
                  <td>
                    {c.conversation_id ? (
                      <button
                        type="button"
                        class="linkish"
                        data-testid="call-conversation"
                        onClick={(e) => {
                          e.stopPropagation();
                          void ctrl.openFromElsewhere(c.conversation_id!);
                        }}
                      >
                        {nameOf(c.conversation_id)}
                      </button>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>{c.kind}</td>
                  <td>
                    {c.provider}
                    {c.model ? ` / ${c.model}` : ''}
                  </td>
                  <td>
                    <span class={`outcome o-${c.outcome}`}>{c.outcome}</span>
                  </td>
                  <td class="num">{formatTokens(c.usage)}</td>
                  <td class="num" data-testid="call-cost">{formatCost(c.cost_micros)}</td>
                  <td class="num">{formatLatency(c.latency_ms)}</td>
                </tr>
                {expanded && (
                  <tr class="call-detail" data-testid="ai-call-detail">
                    <td colSpan={8}>
                      <div class="call-io">
                        <div>
                          <h4>{t('calls_prompt')}</h4>
                          <pre data-testid="call-prompt">{c.prompt}</pre>
                        </div>
                        <div>
                          <h4>{t('calls_answer')}</h4>
                          <pre data-testid="call-answer">{c.answer}</pre>
                        </div>
                      </div>
                    </td>
                  </tr>
                )}
              </tbody>
            );
          })}
        </table>
      )}
    </div>
  );
}
