// The routing rules editor: the rules in force (version, format, the rules by name → their line),
// a plain monospace textarea with a line-number gutter, *Check & save* (`PUT /rules` over the
// version read). A refusal (422) names its line: the gutter and a band mark it and the caret goes
// to its column, and the rules in force stay. A conflict (409) offers the rules saved meanwhile,
// keeping the agent's text in a copy. Unsaved edits are guarded (the header's navigation, log out,
// and the browser's own prompt on unload).

import { useEffect, useRef, useState } from 'preact/hooks';
import type { Controller } from './controller';
import type { Key } from './i18n';
import {
  EXAMPLE, RULES_FORMATS, THEN_KEYS, WHEN_KEYS, afterFailure, afterSave, discard, dropCopy, edit, hasUnsaved, isDirty, lineCount, loadTheirs, offsetAt, openEditor,
  parseRulesDoc, rulesFailure, saveRequest, setFormat, useCopy, type RulesEditor, type RulesFailure,
} from './rules';
import { toMs } from './triage';
import type { RulesDoc, RulesFormat } from './types';
import { denyKey } from './roles';

type T = (key: Key, vars?: Record<string, string>) => string;

/** The textarea's line height and top padding in px (style.css `.rules-editor`): the gutter and the band follow them. */
export const LINE_PX = 20;
export const PAD_PX = 8;

async function readRules(ctrl: Controller): Promise<RulesDoc> {
  const doc = parseRulesDoc(await ctrl.api.rules());
  if (!doc) throw new Error('the server answered something that is not the rules');
  return doc;
}

function Help({ t, format }: { t: T; format: RulesFormat }) {
  return (
    <details class="rules-help" data-testid="rules-help" open>
      <summary>{t('rules_help')}</summary>
      <p class="hint">{t('rules_helpFirst')}</p>
      <h4>{t('rules_helpWhen')}</h4>
      <dl data-testid="rules-help-when">
        {WHEN_KEYS.map((k) => (
          <div>
            <dt><code>{k}</code></dt>
            <dd>{t(`rw_${k}` as Key)}</dd>
          </div>
        ))}
      </dl>
      <h4>{t('rules_helpThen')}</h4>
      <dl data-testid="rules-help-then">
        {THEN_KEYS.map((k) => (
          <div>
            <dt><code>{k}</code></dt>
            <dd>{t(`rt_${k}` as Key)}</dd>
          </div>
        ))}
      </dl>
      <h4>{t('rules_helpExample')} ({format.toUpperCase()})</h4>
      <pre class="rules-example" data-testid="rules-example">{EXAMPLE[format]}</pre>
    </details>
  );
}

function FailureView({ ed, failure, t, busy, onTheirs, onGoTo }: { ed: RulesEditor; failure: RulesFailure; t: T; busy: boolean; onTheirs: () => void; onGoTo: (line: number, column: number | null) => void }) {
  const kept = ed.doc.version > 0 ? t('rules_kept', { v: String(ed.doc.version) }) : t('rules_keptNone');
  if (failure.kind === 'invalid') {
    return (
      <div class="rules-alert error" role="alert" data-testid="rules-error" data-line={failure.line ?? undefined} data-column={failure.column ?? undefined}>
        <p data-testid="rules-error-message">{t('rules_invalid', { a: failure.message })}</p>
        <p class="rules-kept" data-testid="rules-kept">{kept}</p>
        {failure.line !== null && (
          <button type="button" class="linkish" data-testid="rules-goto" onClick={() => onGoTo(failure.line!, failure.column)}>
            {t('rules_goTo', { l: String(failure.line) })}
          </button>
        )}
      </div>
    );
  }
  if (failure.kind === 'conflict') {
    return (
      <div class="rules-alert warn" role="alert" data-testid="rules-conflict">
        <p>{t('rules_conflict', { v: String(ed.doc.version) })}</p>
        <p class="hint">{t('rules_conflictHint')}</p>
        <button type="button" class="primary" data-testid="rules-load-theirs" disabled={busy} onClick={onTheirs}>{t('rules_loadTheirs')}</button>
      </div>
    );
  }
  const message = failure.kind === 'missing' ? t('rules_missing') : failure.message;
  return (
    <div class="rules-alert error" role="alert" data-testid="rules-save-error">
      <p>{t('rules_saveFailed', { a: message })}</p>
      <p class="rules-kept">{kept}</p>
    </div>
  );
}

export function RulesView({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [ed, setEd] = useState<RulesEditor | null>(null);
  const [loadError, setLoadError] = useState<RulesFailure | null>(null);
  const [busy, setBusy] = useState(false);
  const [theirsError, setTheirsError] = useState<string | null>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [jump, setJump] = useState<number | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const edRef = useRef(ed);
  edRef.current = ed;
  const tRef = useRef(t);
  tRef.current = t;

  const load = async () => {
    setLoadError(null);
    try {
      setEd(openEditor(await readRules(ctrl)));
    } catch (e) {
      setLoadError(rulesFailure(e));
    }
  };
  useEffect(() => {
    void load();
  }, [ctrl]);

  // Unsaved edits: asked before the header's navigation or log out, and the browser's prompt on unload.
  useEffect(() => {
    const off = ctrl.guardLeaving(() => !hasUnsaved(edRef.current) || window.confirm(tRef.current('rules_leave')));
    const onUnload = (e: BeforeUnloadEvent) => {
      if (!hasUnsaved(edRef.current)) return;
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', onUnload);
    return () => {
      off();
      window.removeEventListener('beforeunload', onUnload);
    };
  }, [ctrl]);

  useEffect(() => {
    if (jump === null) return;
    const id = setTimeout(() => setJump(null), 1500);
    return () => clearTimeout(id);
  }, [jump]);

  /** The caret to `line` (and `column`), the line scrolled into view. */
  const goTo = (line: number, column: number | null, mark: boolean) => {
    const ta = area.current;
    if (!ta) return;
    const off = offsetAt(ta.value, line, column);
    ta.focus();
    ta.setSelectionRange(off, off);
    const top = Math.max(0, (line - 1) * LINE_PX - Math.floor((ta.clientHeight || 300) / 3));
    ta.scrollTop = top;
    setScrollTop(ta.scrollTop);
    if (mark) setJump(line);
  };

  const save = async () => {
    const cur = edRef.current;
    if (!cur || busy) return;
    const sent = saveRequest(cur);
    setBusy(true);
    setTheirsError(null);
    try {
      const answer = parseRulesDoc(await ctrl.api.putRules(sent.source, sent.format, sent.version));
      // An answer without the rules: read them again (they were stored).
      const doc = answer ?? (await readRules(ctrl).catch(() => ({ source: sent.source, format: sent.format, version: sent.version + 1, rules: [] })));
      setEd((e) => (e ? afterSave(e, sent, doc) : e));
    } catch (e) {
      const failure = rulesFailure(e);
      setEd((x) => (x ? afterFailure(x, failure) : x));
      if (failure.kind === 'invalid' && failure.line !== null) goTo(failure.line, failure.column, false);
    } finally {
      setBusy(false);
    }
  };

  const theirs = async () => {
    setBusy(true);
    setTheirsError(null);
    try {
      const doc = await readRules(ctrl);
      setEd((e) => (e ? loadTheirs(e, doc) : e));
    } catch (e) {
      const f = rulesFailure(e);
      setTheirsError(t('rules_loadFailed', { a: f.kind === 'missing' ? t('rules_missing') : f.message }));
    } finally {
      setBusy(false);
    }
  };

  if (loadError || !ed) {
    return (
      <section class="kb rules" data-testid="rules">
        <div class="kb-head">
          <h2>{t('rules_title')}</h2>
        </div>
        <div class="kb-body">
          {!loadError ? (
            <p class="hint">{t('loadingMore')}</p>
          ) : loadError.kind === 'missing' ? (
            <p class="hint" data-testid="rules-missing">{t('rules_missing')}</p>
          ) : (
            <p class="error" role="alert" data-testid="rules-load-error">
              {t('rules_loadFailed', { a: 'message' in loadError ? loadError.message : '' })}{' '}
              <button type="button" onClick={() => void load()}>{t('rules_retry')}</button>
            </p>
          )}
        </div>
      </section>
    );
  }

  if (!ctrl.may('editRules')) return <ReadOnlyRules doc={ed.doc} t={t} />;

  const dirty = isDirty(ed);
  const lines = lineCount(ed.text);
  const errorLine = ed.failure?.kind === 'invalid' ? ed.failure.line : null;
  const updated = toMs(ed.doc.updated_at);
  const band = (line: number, kind: string) => (
    <div class={`rules-band ${kind}`} data-testid={`rules-band-${kind}`} data-line={line} style={{ top: `${PAD_PX + (Math.min(line, lines) - 1) * LINE_PX - scrollTop}px` }} />
  );
  return (
    <section class="kb rules" data-testid="rules">
      <div class="kb-head">
        <h2>{t('rules_title')}</h2>
        <span class="hint" data-testid="rules-in-force" data-version={ed.doc.version}>
          {ed.doc.version > 0 ? t('rules_inForce', { v: String(ed.doc.version), f: ed.doc.format.toUpperCase(), n: String(ed.doc.rules.length) }) : t('rules_none')}
          {updated !== null && ` · ${t('rules_updated', { a: new Date(updated).toLocaleString() })}`}
        </span>
      </div>
      <p class="hint rules-intro">{t('rules_intro')}</p>
      <div class="rules-layout">
        <form
          class="kb-body rules-main"
          data-testid="rules-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <div class="rules-bar">
            <label class="rules-format">
              {t('rules_format')}{' '}
              <select data-testid="rules-format" value={ed.format} disabled={busy} onChange={(e) => {
                  const f = (e.target as HTMLSelectElement).value as RulesFormat;
                  setEd((x) => x && setFormat(x, f));
                }}>
                {RULES_FORMATS.map((f) => (
                  <option value={f}>{f.toUpperCase()}</option>
                ))}
              </select>
            </label>
            {dirty && <span class="rules-dirty" data-testid="rules-dirty">● {t('rules_unsaved')}</span>}
            <span class="spacer" />
            {dirty && (
              <button type="button" data-testid="rules-discard" disabled={busy} onClick={() => setEd(discard(ed))}>{t('rules_discard')}</button>
            )}
            <button type="submit" class="primary" data-testid="rules-save" disabled={busy}>{busy ? t('rules_saving') : t('rules_save')}</button>
          </div>
          <div class="rules-editor">
            <div class="rules-gutter" aria-hidden="true">
              <div class="rules-gutter-lines" style={{ transform: `translateY(${-scrollTop}px)` }}>
                {Array.from({ length: lines }, (_, i) => (
                  <div class={i + 1 === errorLine ? 'rules-ln err' : 'rules-ln'} data-testid="rules-ln" data-line={i + 1} data-error={i + 1 === errorLine ? 'true' : undefined}>
                    {i + 1}
                  </div>
                ))}
              </div>
            </div>
            <div class="rules-code">
              {errorLine !== null && band(errorLine, 'error')}
              {jump !== null && band(jump, 'jump')}
              <textarea
                ref={area}
                data-testid="rules-source"
                aria-label={t('rules_source')}
                aria-invalid={errorLine !== null}
                wrap="off"
                spellcheck={false}
                autocomplete="off"
                autocapitalize="off"
                value={ed.text}
                onInput={(e) => {
                  const text = (e.target as HTMLTextAreaElement).value;
                  setEd((x) => x && edit(x, text));
                }}
                onScroll={(e) => setScrollTop((e.target as HTMLTextAreaElement).scrollTop)}
                onKeyDown={(e) => {
                  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
                    e.preventDefault();
                    void save();
                  }
                }}
              />
            </div>
          </div>
          {ed.failure && <FailureView ed={ed} failure={ed.failure} t={t} busy={busy} onTheirs={() => void theirs()} onGoTo={(l, c) => goTo(l, c, true)} />}
          {theirsError && <p class="error" role="alert" data-testid="rules-theirs-error">{theirsError}</p>}
          {ed.saved !== null && (
            <p class="rules-ok" role="status" data-testid="rules-saved" data-version={ed.saved}>✓ {t('rules_saved', { v: String(ed.saved) })}</p>
          )}
          {ed.copy && (
            <div class="rules-copy" data-testid="rules-copy">
              <h4>{t('rules_copyTitle')} ({ed.copy.format.toUpperCase()})</h4>
              <textarea data-testid="rules-copy-text" readOnly wrap="off" spellcheck={false} rows={8} value={ed.copy.text} />
              <div class="dialog-actions">
                <button type="button" data-testid="rules-drop-copy" onClick={() => setEd(dropCopy(ed))}>{t('rules_dropCopy')}</button>
                <button type="button" data-testid="rules-use-copy" onClick={() => setEd(useCopy(ed))}>{t('rules_useCopy')}</button>
              </div>
            </div>
          )}
        </form>
        <aside class="rules-side">
          <div class="kb-body">
            <h3>{t('rules_list')}</h3>
            {ed.doc.rules.length === 0 ? (
              <p class="hint" data-testid="rules-list-none">{t('rules_listNone')}</p>
            ) : (
              <ol class="rules-list" data-testid="rules-list">
                {ed.doc.rules.map((r) => (
                  <li>
                    <button type="button" class="linkish" data-testid="rules-rule" data-line={r.line} data-name={r.name} onClick={() => goTo(r.line, null, true)}>
                      <span class="rules-rule-name">{r.name}</span> <span class="hint">{t('rules_line', { l: String(r.line) })}</span>
                    </button>
                  </li>
                ))}
              </ol>
            )}
          </div>
          <div class="kb-body">
            <Help t={t} format={ed.format} />
          </div>
        </aside>
      </div>
    </section>
  );
}

/**
 * The rules in force for a role that may not change them (supervisors, agents): the text with
 * its line numbers and the rules by name, no editor.
 */
function ReadOnlyRules({ doc, t }: { doc: RulesDoc; t: T }) {
  const updated = toMs(doc.updated_at);
  const lines = doc.source.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  return (
    <section class="kb rules" data-testid="rules" data-read-only="true">
      <div class="kb-head">
        <h2>{t('rules_title')}</h2>
        <span class="hint" data-testid="rules-in-force" data-version={doc.version}>
          {doc.version > 0 ? t('rules_inForce', { v: String(doc.version), f: doc.format.toUpperCase(), n: String(doc.rules.length) }) : t('rules_none')}
          {updated !== null && ` · ${t('rules_updated', { a: new Date(updated).toLocaleString() })}`}
        </span>
      </div>
      <p class="hint read-only" data-testid="rules-read-only">{t('readOnly', { a: t(denyKey('editRules')) })}</p>
      {doc.version > 0 && doc.source.trim() ? (
      <div class="rules-layout">
        <div class="kb-body rules-main">
          <ol class="rules-readonly" data-testid="rules-text" aria-label={t('rules_source')}>
            {lines.map((l, i) => (
              <li data-line={i + 1}>
                <code>{l || ' '}</code>
              </li>
            ))}
          </ol>
        </div>
        <aside class="rules-side">
          <div class="kb-body">
            <h3>{t('rules_list')}</h3>
            {doc.rules.length === 0 ? (
              <p class="hint">{t('rules_listNone')}</p>
            ) : (
              <ol class="rules-list" data-testid="rules-list">
                {doc.rules.map((r) => (
                  <li data-testid="rules-rule" data-line={r.line} data-name={r.name}>
                    <span class="rules-rule-name">{r.name}</span> <span class="hint">{t('rules_line', { l: String(r.line) })}</span>
                  </li>
                ))}
              </ol>
            )}
          </div>
        </aside>
      </div>
      ) : (
        <p class="kb-body hint" data-testid="rules-list-none">{t('rules_listNone')}</p>
      )}
    </section>
  );
}
