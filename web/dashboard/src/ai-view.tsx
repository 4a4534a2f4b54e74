// The AI in a conversation: the "AI" badge, the status label ("With AI"), the summary card an
// agent reads first at a handover, and the toolbar (Summarise, Suggest reply, Hand back to AI).
// A server without these endpoints shows none of it (the controller's `ai` stays null).
// Summaries and suggestions are text from a model: JSX text children only, never markup.

import { useState } from 'preact/hooks';
import type { Controller } from './controller';
import type { Key } from './i18n';
import { aiOn, canHandBack } from './ai';
import type { AiSetup, ConversationView, HistorySummary } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

/** The small "AI" label on an AI's answer (timeline and list preview). */
export function AiBadge({ t }: { t: T }) {
  return (
    <span class="ai-badge" data-testid="ai-badge" title={t('aiBadgeTitle')}>
      {t('aiBadge')}
    </span>
  );
}

/** The status as words: "With AI" (or "With bot" when the AI is off or unknown) for `bot`. */
export function statusLabel(status: string, ai: AiSetup | null, t: T): string {
  switch (status) {
    case 'bot':
      return aiOn(ai) ? t('conv_withAi') : t('conv_withBot');
    case 'queued':
      return t('conv_queued');
    case 'assigned':
      return t('conv_assigned');
    case 'resolved':
      return t('conv_resolved');
    default:
      return status;
  }
}

function when(iso: string, t: T): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(t('locale'), { dateStyle: 'medium', timeStyle: 'short' });
}

/** "Summary" at the top of the open conversation: the text, how it was made and when; folds away. */
export function SummaryCard({ summary, t }: { summary: HistorySummary | null | undefined; t: T }) {
  const [open, setOpen] = useState(true);
  if (!summary || !summary.text) return null;
  return (
    <section class={open ? 'summary-card' : 'summary-card folded'} data-testid="summary-card" data-generated={String(!!summary.generated)} aria-label={t('summary')}>
      <div class="summary-head">
        <button type="button" class="linkish summary-toggle" data-testid="summary-toggle" aria-expanded={open} title={open ? t('summaryHide') : t('summaryShow')} onClick={() => setOpen(!open)}>
          {t('summary')}
        </button>
        <span class={summary.generated ? 'summary-kind gen' : 'summary-kind'} data-testid="summary-kind">
          {summary.generated ? t('summaryGenerated') : t('summaryExtractive')}
        </span>
        <time class="summary-time" dateTime={summary.updated_at} title={t('summaryThrough', { a: when(summary.through, t) })}>
          {t('summaryUpdated', { a: when(summary.updated_at, t) })}
        </time>
      </div>
      {open && (
        <p class="summary-text" data-testid="summary-text">
          {summary.text}
        </p>
      )}
    </section>
  );
}

/** "FAQ", "OpenAI", "Bedrock"; another source as sent. */
export function sourceName(source: string | undefined): string {
  const known: Record<string, string> = { faq: 'FAQ', kb: 'FAQ', openai: 'OpenAI', bedrock: 'Bedrock' };
  return source ? known[source] ?? source : 'AI';
}

type Busy = null | 'summary' | 'suggestion' | 'handBack';

/**
 * The conversation's AI actions. `onSuggestion` puts a suggested reply into the composer;
 * nothing here ever sends. An action the server turns out not to have hides itself.
 */
export function AiTools({ ctrl, conv, t, onSuggestion }: { ctrl: Controller; conv: ConversationView; t: T; onSuggestion: (text: string) => void }) {
  const [busy, setBusy] = useState<Busy>(null);
  const [notice, setNotice] = useState<{ kind: 'info' | 'error'; text: string } | null>(null);
  const [missing, setMissing] = useState<Record<string, boolean>>({});
  if (ctrl.ai === null) return null;
  const resolved = conv.status === 'resolved';
  const showSummarise = !missing.summary;
  const showSuggest = aiOn(ctrl.ai) && !resolved && !missing.suggestion;
  const showHandBack = canHandBack(conv) && !missing.handBack;
  if (!showSummarise && !showSuggest && !showHandBack) return null;

  const run = async <V,>(kind: Exclude<Busy, null>, p: () => Promise<{ ok: true; value: V } | { ok: false; missing: boolean; reason: string }>, done: (v: V) => void) => {
    setBusy(kind);
    setNotice(null);
    const r = await p();
    setBusy(null);
    if (r.ok) return done(r.value);
    if (r.missing) setMissing((m) => ({ ...m, [kind]: true }));
    else setNotice({ kind: 'error', text: t('aiFailed', { a: r.reason }) });
  };
  const summarise = () =>
    run('summary', () => ctrl.summarise(conv.id), (s) => {
      if (!s) setNotice({ kind: 'info', text: t('summaryNone') });
    });
  const suggest = () =>
    run('suggestion', () => ctrl.suggest(conv.id), (s) => {
      if (s.text) {
        onSuggestion(s.text);
        setNotice({ kind: 'info', text: t('suggestionFrom', { a: sourceName(s.source) }) });
      } else {
        setNotice({ kind: 'info', text: s.reason ? t('suggestionNone', { a: s.reason }) : t('suggestionNoReason') });
      }
    });
  const handBack = () => run('handBack', () => ctrl.handBack(conv.id), () => {});

  return (
    <div class="ai-tools" data-testid="ai-tools">
      {showSummarise && (
        <button type="button" data-testid="summarise" disabled={busy !== null} onClick={() => void summarise()}>
          {busy === 'summary' ? t('summarising') : t('summarise')}
        </button>
      )}
      {showSuggest && (
        <button type="button" data-testid="suggest-reply" disabled={busy !== null} onClick={() => void suggest()}>
          {busy === 'suggestion' ? t('suggesting') : t('suggest')}
        </button>
      )}
      {showHandBack && (
        <button type="button" data-testid="hand-back" title={t('handBackTitle')} disabled={busy !== null} onClick={() => void handBack()}>
          {t('handBack')}
        </button>
      )}
      {notice && (
        <span class={notice.kind === 'error' ? 'ai-notice error' : 'ai-notice'} data-testid="ai-notice" data-kind={notice.kind} role={notice.kind === 'error' ? 'alert' : 'status'}>
          {notice.text}
        </span>
      )}
    </div>
  );
}
