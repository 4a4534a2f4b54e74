// @vitest-environment happy-dom
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { ConversationList, ConversationPane } from '../src/app';
import { Controller } from '../src/controller';
import { translate, type Key } from '../src/i18n';
import { AiCalls, FaqEditor, KnowledgeBase } from '../src/knowledge-view';
import type { AiCall, AiSetup, ConversationView, FaqEntry, Message } from '../src/types';
import { useDom } from './dom';
import { conv, msg } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const KB: AiSetup = { provider: 'kb', model: null, faq_entries: 1 };

// The tests wait for what they expect with `vi.waitFor`; a click does not wait by itself.
const { root, $, $$, tid, click } = useDom({ flushAfterClick: false });

type Call = { method: string; url: string; body: unknown };
/** `fetch` answering from `answer` (JSON, 200 unless it says); every call is recorded. */
function stubFetch(answer: (c: Call) => { status?: number; body: unknown }) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    const r = answer(c);
    return new Response(r.status === 204 ? null : JSON.stringify(r.body), { status: r.status ?? 200 });
  });
  return calls;
}

function controller(ai: AiSetup | null = KB) {
  const ctrl = new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 't', agent: { id: 'ag_me', email: 'a@x', name: 'Ann', status: 'online' } }, { onLoggedOut: () => {} });
  ctrl.ai = ai;
  return ctrl;
}

function pane(c: ConversationView, messages: Message[] = [], ai: AiSetup | null = KB) {
  const ctrl = controller(ai);
  ctrl.state.conversations[c.id] = c;
  ctrl.state.messages[c.id] = messages;
  const composerRef = { current: null as HTMLTextAreaElement | null };
  const again = () =>
    act(() => render(<ConversationPane ctrl={ctrl} conv={ctrl.state.conversations[c.id]} t={t} agentName={(id) => (id === 'ag_me' ? 'you' : id === 'ag_bob' ? 'Bob' : id ?? '?')} composerRef={composerRef} />, root()));
  again();
  ctrl.subscribe(again);
  return { ctrl, again };
}

const composer = () => tid('composer') as HTMLTextAreaElement;

describe('AI messages and events in the timeline', () => {
  it("the AI's answer carries the AI badge; a bot's does not", () => {
    pane(conv('cv', { status: 'bot', assignee_id: null }), [
      msg('m1', 'cv', { direction: 'outbound', author: { kind: 'ai' }, text: 'Delivery takes 2–3 working days.', delivery: { status: 'sent', attempts: 1, updated_at: '2026-01-01T10:00:01Z' } }),
      msg('m2', 'cv', { direction: 'outbound', author: { kind: 'bot' }, text: 'Hi!', delivery: { status: 'sent', attempts: 1, updated_at: '2026-01-01T10:00:02Z' } }),
    ]);
    const [ai, bot] = $$('[data-testid="message"]');
    expect(ai.getAttribute('data-author')).toBe('ai');
    expect(ai.classList.contains('ai')).toBe(true);
    expect(ai.querySelector('[data-testid="ai-badge"]')!.textContent).toBe('AI');
    expect(ai.querySelector('[data-testid="delivery"]')!.textContent).toBe('sent');
    expect(bot.querySelector('[data-testid="ai-badge"]')).toBeNull();
  });

  it('an internal note looks different, says it was not sent and has no delivery state', () => {
    pane(conv('cv'), [msg('n1', 'cv', { direction: 'outbound', author: { kind: 'ai' }, internal: true, text: 'Dropped AI answer', delivery: { status: 'sent', attempts: 0, updated_at: '2026-01-01T10:00:00Z' } })]);
    const note = $('[data-testid="message"]')!;
    expect(note.getAttribute('data-internal')).toBe('true');
    expect(note.classList.contains('note')).toBe(true);
    expect(note.querySelector('[data-testid="internal-note"]')!.textContent).toBe('Internal note — not sent');
    expect(note.querySelector('[data-testid="delivery"]')).toBeNull();
  });

  it('handover and hand-back events: the reason, the agent, a distinct marker', () => {
    pane(conv('cv'), [
      msg('e1', 'cv', { author: { kind: 'system' }, event: { event: 'handed_over', reason: 'the customer asked for a person' }, text: '' }),
      msg('e2', 'cv', { author: { kind: 'system' }, event: { event: 'handed_back', by: 'ag_bob' }, text: '', created_at: '2026-01-01T10:01:00Z' }),
      msg('e3', 'cv', { author: { kind: 'system' }, event: { event: 'handed_back', by: null }, text: '', created_at: '2026-01-01T10:02:00Z' }),
    ]);
    const [over, back, backAnon] = $$('[data-testid="system-event"]');
    expect(over.getAttribute('data-event')).toBe('handed_over');
    expect(over.classList.contains('ev-handed_over')).toBe(true);
    expect(over.textContent).toContain('Handed to a person: the customer asked for a person');
    expect(back.textContent).toContain('Handed back to the AI by Bob');
    expect(backAnon.textContent).toContain('Handed back to the AI');
  });
});

describe('status and list', () => {
  it('a bot conversation says "With AI" (or "With bot" without the AI); others keep their status word', () => {
    pane(conv('cv', { status: 'bot', assignee_id: null }));
    expect(tid('conversation-status')!.textContent).toBe('With AI');
    expect(tid('conversation-status')!.getAttribute('data-status')).toBe('bot');
    render(null, root());
    pane(conv('cv', { status: 'bot', assignee_id: null }), [], null);
    expect(tid('conversation-status')!.textContent).toBe('With bot');
    render(null, root());
    pane(conv('cv', { status: 'assigned' }));
    expect(tid('conversation-status')!.textContent!.toLowerCase()).toBe('assigned');
  });

  it("the list preview of an AI's last message has the badge; a bot conversation is labelled", () => {
    const ctrl = controller();
    const lm = (author_kind: string, text: string) => ({ id: 'm', direction: 'outbound' as const, author_kind, channel: 'telegram' as const, text, created_at: '2026-01-01T10:00:00Z' });
    const list = [conv('a', { status: 'bot', assignee_id: null, last_message: lm('ai', 'Delivery takes 2–3 working days.') }), conv('b', { last_message: lm('agent', 'Hello') })];
    act(() => render(<ConversationList ctrl={ctrl} list={list} t={t} now={Date.parse('2026-01-01T10:00:00Z')} />, root()));
    const [a, b] = $$('[data-testid="conversation-item"]');
    expect(a.querySelector('[data-testid="preview"] [data-testid="ai-badge"]')).not.toBeNull();
    expect(a.querySelector('[data-testid="preview"]')!.textContent).toBe('AIDelivery takes 2–3 working days.');
    expect(a.querySelector('[data-testid="conversation-item-status"]')!.textContent).toBe('With AI');
    expect(b.querySelector('[data-testid="ai-badge"]')).toBeNull();
    expect(b.querySelector('[data-testid="conversation-item-status"]')).toBeNull();
  });
});

describe('the summary card', () => {
  const summary = { text: 'Ann asked about delivery; the AI answered 2–3 days. She wants a person.', through: '2026-01-01T10:00:00Z', updated_at: '2026-01-01T10:05:00Z', generated: false };

  it('shows at the top with its kind, and folds away', async () => {
    pane(conv('cv', { summary }));
    const card = tid('summary-card')!;
    expect(card.getAttribute('data-generated')).toBe('false');
    expect(tid('summary-kind')!.textContent).toBe('extractive');
    expect(tid('summary-text')!.textContent).toBe(summary.text);
    expect(card.compareDocumentPosition(tid('timeline')!) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    await click(tid('summary-toggle'));
    expect(tid('summary-text')).toBeNull();
    expect(tid('summary-toggle')!.getAttribute('aria-expanded')).toBe('false');
  });

  it('no summary, no card', () => {
    pane(conv('cv'));
    expect(tid('summary-card')).toBeNull();
  });

  it('Summarise asks the server and the card shows the answer', async () => {
    const calls = stubFetch(() => ({ body: { summary: { ...summary, generated: true, text: 'Fresh summary' } } }));
    pane(conv('cv'));
    await click(tid('summarise'));
    await vi.waitFor(() => expect(tid('summary-text')?.textContent).toBe('Fresh summary'));
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/v1/conversations/cv/assist/summary']);
    expect(tid('summary-kind')!.textContent).toBe('AI-generated');
  });
});

describe('suggest reply', () => {
  it('puts the suggestion into an empty composer and sends nothing', async () => {
    const calls = stubFetch(() => ({ body: { text: 'Delivery takes 2–3 working days.', source: 'faq' } }));
    pane(conv('cv'));
    await click(tid('suggest-reply'));
    await vi.waitFor(() => expect(composer().value).toBe('Delivery takes 2–3 working days.'));
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/v1/conversations/cv/assist/suggestion']);
    expect(tid('ai-notice')!.textContent).toBe('Suggestion from FAQ put in the reply box: check it before sending.');
    expect(localStorage.getItem('omnidesk.draft.cv')).toBe('Delivery takes 2–3 working days.');
  });

  it('appends after a blank line to what the agent wrote', async () => {
    stubFetch(() => ({ body: { text: 'It ships tomorrow.', source: 'openai' } }));
    localStorage.setItem('omnidesk.draft.cv', 'Hello Ann,');
    pane(conv('cv'));
    await click(tid('suggest-reply'));
    await vi.waitFor(() => expect(composer().value).toBe('Hello Ann,\n\nIt ships tomorrow.'));
  });

  it('no suggestion: the reason as a notice, the draft untouched', async () => {
    stubFetch(() => ({ body: { text: null, source: 'faq', reason: 'no matching entry' } }));
    localStorage.setItem('omnidesk.draft.cv', 'Mine');
    pane(conv('cv'));
    await click(tid('suggest-reply'));
    await vi.waitFor(() => expect(tid('ai-notice')?.textContent).toBe('No suggestion: no matching entry'));
    expect(composer().value).toBe('Mine');
  });

  it('hidden when the AI is off; the whole toolbar hidden on a server without the AI', () => {
    pane(conv('cv'), [], { provider: 'off', model: null, faq_entries: 0 });
    expect(tid('suggest-reply')).toBeNull();
    expect(tid('summarise')).not.toBeNull();
    render(null, root());
    pane(conv('cv'), [], null);
    expect(tid('ai-tools')).toBeNull();
  });

  it('an endpoint the server lacks (404 without not_found) hides its button; another error is shown', async () => {
    let status = 404;
    stubFetch(() => ({ status, body: status === 404 ? { error: { code: 'no_route', message: 'Not Found' } } : { error: 'provider down' } }));
    pane(conv('cv'));
    await click(tid('suggest-reply'));
    await vi.waitFor(() => expect(tid('suggest-reply')).toBeNull());
    status = 502;
    await click(tid('summarise'));
    await vi.waitFor(() => expect(tid('ai-notice')?.textContent).toBe('Could not do that: provider down'));
    expect(tid('ai-notice')!.getAttribute('role')).toBe('alert');
  });
});

describe('hand back to the AI', () => {
  it('offered for queued and assigned, not for bot or resolved', () => {
    for (const [status, shown] of [['queued', true], ['assigned', true], ['bot', false], ['resolved', false]] as const) {
      pane(conv('cv', { status, assignee_id: status === 'assigned' ? 'ag_me' : null }));
      expect(!!tid('hand-back'), status).toBe(shown);
      render(null, root());
    }
  });

  it('posts and the conversation is with the AI again', async () => {
    const calls = stubFetch(() => ({ body: conv('cv', { status: 'bot', assignee_id: null, version: 2 }) }));
    pane(conv('cv', { status: 'queued', assignee_id: null }));
    await click(tid('hand-back'));
    await vi.waitFor(() => expect(tid('conversation-status')!.textContent).toBe('With AI'));
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/v1/conversations/cv/hand-back']);
    expect(tid('hand-back')).toBeNull();
  });
});

describe('the AI setup read by the controller', () => {
  it('reads GET /ai; a server without it (404) leaves it null and the knowledge view closed', async () => {
    stubFetch(() => ({ body: { provider: 'kb', model: null, faq_entries: 3 } }));
    const ctrl = controller(null);
    await ctrl.loadAi();
    expect(ctrl.ai).toEqual({ provider: 'kb', model: null, faq_entries: 3 });
    stubFetch(() => ({ status: 404, body: null }));
    ctrl.showView('knowledge');
    await ctrl.loadAi();
    expect(ctrl.ai).toBeNull();
    expect(ctrl.view).toBe('conversations');
  });
});

const faq = (id: string, patch: Partial<FaqEntry> = {}): FaqEntry => ({ id, questions: [`Question ${id}?`], answer: `Answer ${id}.`, language: null, enabled: true, updated_at: '2026-01-01T10:00:00Z', ...patch });

describe('the FAQ editor', () => {
  function mount(entries: FaqEntry[], answer: (c: Call) => { status?: number; body: unknown } | null = () => null) {
    const calls = stubFetch((c) => answer(c) ?? (c.url === '/api/v1/faq' && c.method === 'GET' ? { body: { version: 1, entries } } : { body: KB }));
    const ctrl = controller();
    act(() => render(<FaqEditor ctrl={ctrl} t={t} />, root()));
    return { calls, ctrl };
  }
  const type = async (id: string, value: string) => {
    const el = tid(id) as HTMLInputElement | HTMLTextAreaElement;
    await act(async () => {
      el.value = value;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
  };

  it('lists a few thousand entries a page at a time, and the search filters them', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => faq(`f${i}`, { updated_at: `2026-01-01T10:00:00.${String(9999 - i).padStart(4, '0')}Z` }));
    mount(many);
    await vi.waitFor(() => expect($$('[data-testid="faq-entry"]')).toHaveLength(50));
    expect(tid('faq-count')!.textContent).toBe('3000 of 3000 entries');
    expect(tid('faq-pager')!.textContent).toContain('Page 1 of 60');
    await click(tid('faq-next'));
    expect($$('[data-testid="faq-entry"]')[0].getAttribute('data-id')).toBe('f50');
    await type('faq-search', 'question f2999?');
    expect($$('[data-testid="faq-entry"]').map((e) => e.getAttribute('data-id'))).toEqual(['f2999']);
    expect(tid('faq-pager')).toBeNull();
    await type('faq-search', 'zzz');
    expect(tid('faq-none')!.textContent).toBe('No entry matches.');
  });

  it('validates before saving: a question and an answer, with clear messages', async () => {
    const { calls } = mount([]);
    await vi.waitFor(() => expect(tid('faq-none')).not.toBeNull());
    await click(tid('faq-add'));
    await click(tid('faq-save'));
    expect($$('[data-testid="faq-problems"] li').map((l) => l.textContent)).toEqual(['Write at least one question.', 'Write the answer.']);
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]);
  });

  it('adds an entry with several question variants; it shows in the list', async () => {
    const created = faq('f9', { questions: ['How long does delivery take?', 'When will my order arrive?'], answer: 'Delivery takes 2–3 working days.', language: 'en', updated_at: '2026-02-01T00:00:00Z' });
    const { calls } = mount([faq('f1')], (c) => (c.method === 'POST' ? { status: 201, body: created } : null));
    await vi.waitFor(() => expect($$('[data-testid="faq-entry"]')).toHaveLength(1));
    await click(tid('faq-add'));
    await type('faq-questions', 'How long does delivery take?\n\nWhen will my order arrive?\n');
    await type('faq-answer', ' Delivery takes 2–3 working days. ');
    await type('faq-language', 'en');
    await click(tid('faq-save'));
    await vi.waitFor(() => expect(tid('faq-form')).toBeNull());
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ questions: ['How long does delivery take?', 'When will my order arrive?'], answer: 'Delivery takes 2–3 working days.', language: 'en', enabled: true });
    const first = $$('[data-testid="faq-entry"]')[0];
    expect(first.getAttribute('data-id')).toBe('f9');
    expect(first.querySelector('[data-testid="faq-question"]')!.textContent).toBe('How long does delivery take?');
    expect(first.textContent).toContain('+1 more');
  });

  it("shows the server's refusal ({error: \"...\"}) and keeps the form", async () => {
    mount([], (c) => (c.method === 'POST' ? { status: 422, body: { error: 'answer too long' } } : null));
    await vi.waitFor(() => expect(tid('faq-none')).not.toBeNull());
    await click(tid('faq-add'));
    await type('faq-questions', 'Q?');
    await type('faq-answer', 'A.');
    await click(tid('faq-save'));
    await vi.waitFor(() => expect(tid('faq-server-error')?.textContent).toBe('Could not save: answer too long'));
    expect(tid('faq-form')).not.toBeNull();
  });

  it('disables an entry (PUT with the whole body) and deletes one after confirming', async () => {
    const e = faq('f1', { language: 'de' });
    const { calls } = mount([e, faq('f2')], (c) =>
      c.method === 'PUT' ? { body: { ...e, enabled: false } } : c.method === 'DELETE' ? { status: 204, body: null } : null,
    );
    await vi.waitFor(() => expect($$('[data-testid="faq-entry"]')).toHaveLength(2));
    await click($('[data-id="f1"] [data-testid="faq-toggle"]'));
    await vi.waitFor(() => expect($('[data-id="f1"]')!.getAttribute('data-enabled')).toBe('false'));
    expect(calls.find((c) => c.method === 'PUT')).toMatchObject({ url: '/api/v1/faq/f1', body: { questions: ['Question f1?'], answer: 'Answer f1.', language: 'de', enabled: false } });
    await click($('[data-id="f2"] [data-testid="faq-delete"]'));
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
    await click($('[data-id="f2"] [data-testid="faq-delete-confirm"]'));
    await vi.waitFor(() => expect($('[data-id="f2"]')).toBeNull());
    expect(calls.find((c) => c.method === 'DELETE')!.url).toBe('/api/v1/faq/f2');
  });

  it('the knowledge base header tells the AI mode', async () => {
    stubFetch(() => ({ body: { version: 1, entries: [] } }));
    const ctrl = controller({ provider: 'openai', model: 'gpt-4o-mini', faq_entries: 12 });
    act(() => render(<KnowledgeBase ctrl={ctrl} t={t} />, root()));
    expect(tid('ai-mode')!.textContent).toBe('AI: openai (gpt-4o-mini) · 12 entries');
    expect(tid('ai-mode')!.getAttribute('data-provider')).toBe('openai');
  });
});

describe('the AI review', () => {
  const call: AiCall = {
    id: 'call1', conversation_id: 'cv', message_id: 'm1', at: '2026-01-01T10:00:00Z', kind: 'answer', provider: 'openai', model: 'gpt-4o-mini',
    prompt: 'System: answer from the FAQ\n<b>Customer</b>: how long?', answer: '{"answer":"2–3 days"}', outcome: 'answered', usage: { input: 812, output: 40 }, cost_micros: 1234, latency_ms: 930,
  };

  it('a table of calls: cost from micros, tokens, latency; a row opens to the prompt and answer as text', async () => {
    const calls = stubFetch(() => ({ body: { calls: [call] } }));
    const ctrl = controller();
    act(() => render(<AiCalls ctrl={ctrl} t={t} />, root()));
    await vi.waitFor(() => expect(tid('ai-call')).not.toBeNull());
    expect(calls[0].url).toBe('/api/v1/ai/calls?limit=50');
    const row = tid('ai-call')!;
    expect(tid('call-cost')!.textContent).toBe('$0.0012');
    expect(row.textContent).toContain('812 → 40');
    expect(row.textContent).toContain('930 ms');
    expect(row.textContent).toContain('openai / gpt-4o-mini');
    await click(row);
    expect(tid('call-prompt')!.tagName).toBe('PRE');
    expect(tid('call-prompt')!.textContent).toBe(call.prompt);
    expect($('[data-testid="ai-call-detail"] b')).toBeNull();
    expect(tid('call-answer')!.textContent).toBe(call.answer);
  });

  it("the conversation link opens it; a conversation's own calls are asked for by id", async () => {
    const calls = stubFetch((c) => (c.url.startsWith('/api/v1/ai/calls') ? { body: { calls: [call] } } : { status: 404, body: null }));
    const ctrl = controller();
    ctrl.callsFor = 'cv';
    const open = vi.spyOn(ctrl, 'open').mockResolvedValue();
    act(() => render(<AiCalls ctrl={ctrl} t={t} />, root()));
    await vi.waitFor(() => expect(tid('call-conversation')).not.toBeNull());
    expect(calls[0].url).toBe('/api/v1/ai/calls?limit=50&conversation_id=cv');
    await click(tid('call-conversation'));
    expect(open).toHaveBeenCalledWith('cv');
    expect(ctrl.view).toBe('conversations');
    expect(tid('ai-call-detail')).toBeNull();
  });
});
