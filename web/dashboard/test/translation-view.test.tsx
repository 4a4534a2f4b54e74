// @vitest-environment happy-dom
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ConversationPane } from '../src/app';
import { Controller } from '../src/controller';
import { translate, type Key } from '../src/i18n';
import { applyEvent } from '../src/state';
import { InboundText, MyLanguages, TranslationPreviewView } from '../src/translation-view';
import type { Agent, ConversationView, Message, TranslationPreview, TranslationSetup } from '../src/types';
import { useDom } from './dom';
import { conv, msg } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
const tZh = (key: Key, vars?: Record<string, string>) => translate('zh', key, vars);

const { root, $, $$, flush } = useDom();
/** The accessible name a browser test would use: the button whose text is `name`. */
const button = (name: string, within: ParentNode = root()) =>
  Array.from(within.querySelectorAll('button')).find((b) => b.textContent?.trim() === name) as HTMLButtonElement | undefined;

const EN: Pick<Agent, 'language' | 'languages'> = { language: 'en', languages: ['en'] };
const ru = (patch: Partial<Message> = {}) =>
  msg('m1', 'cv', {
    text: 'Где моя посылка?',
    language: 'ru',
    translations: [{ language: 'en', text: 'Where is my parcel?', provider: 'deepl' }],
    translation: { state: 'done' },
    ...patch,
  });
const reply = (translation: Message['translation'], patch: Partial<Message> = {}) =>
  msg('m2', 'cv', {
    direction: 'outbound',
    author: { kind: 'agent', id: 'ag_me' },
    text: 'It ships tomorrow.',
    language: 'en',
    translations: [
      { language: 'de', text: 'Es wird morgen verschickt.', provider: 'deepl' },
      { language: 'ru', text: 'Отправим завтра.', provider: 'deepl' },
    ],
    translation,
    delivery: { status: 'sent', attempts: 1, updated_at: '2026-01-01T10:05:00.000Z' },
    ...patch,
  });

describe('a translated customer message in the timeline', () => {
  const show = (m: Message, reader = EN, tr = t) => act(() => render(<InboundText m={m} reader={reader} t={tr} />, root()));

  it('shows the translation with "Translated from Russian · DeepL · Show original", and toggles to the original and back', () => {
    show(ru());
    expect($('[data-testid="message-text"]')!.textContent).toBe('Where is my parcel?');
    expect($('[data-testid="message-text"]')!.getAttribute('lang')).toBe('en');
    expect($('[data-testid="translation-line"]')!.textContent).toBe('Translated from Russian · DeepL · Show original');
    act(() => button('Show original')!.click());
    expect($('[data-testid="message-text"]')!.textContent).toBe('Где моя посылка?');
    expect($('[data-testid="message-text"]')!.getAttribute('data-shown')).toBe('original');
    expect($('[data-testid="translation-line"]')!.textContent).toBe('Original in Russian · Show translation');
    act(() => button('Show translation')!.click());
    expect($('[data-testid="message-text"]')!.textContent).toBe('Where is my parcel?');
  });

  it('in the Chinese UI the language name is Chinese', () => {
    show(ru({ translations: [{ language: 'zh-Hans', text: '我的包裹在哪里？', provider: 'google' }] }), { language: 'zh', languages: ['zh'] }, tZh);
    expect($('[data-testid="message-text"]')!.textContent).toBe('我的包裹在哪里？');
    expect($('[data-testid="translation-line"]')!.textContent).toBe('译自俄语 · Google · 显示原文');
  });

  it('a language the agent reads shows as before: the text alone', () => {
    show(ru(), { language: 'en', languages: ['ru'] });
    expect($('[data-testid="message-text"]')!.textContent).toBe('Где моя посылка?');
    expect($('[data-testid="translation-line"]')).toBeNull();
    expect($('[data-testid="translation-state"]')).toBeNull();
  });

  it('"Translating…" while pending; "Translation failed, retrying" or the reason when it failed', () => {
    show(ru({ translations: [], translation: { state: 'pending' } }));
    expect($('[data-testid="message-text"]')!.textContent).toBe('Где моя посылка?');
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Translating…');
    show(ru({ translations: [], translation: { state: 'failed', reason: 'provider timeout', retrying: true } }));
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Translation failed, retrying');
    show(ru({ translations: [], translation: { state: 'failed', reason: 'language not supported', retrying: false } }));
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Translation failed: language not supported');
    expect($('[data-testid="translation-state"]')!.getAttribute('data-retrying')).toBe('false');
    show(ru({ translations: [], translation: undefined }));
    expect($('[data-testid="translation-state"]')).toBeNull();
    expect($('[data-testid="message-text"]')!.textContent).toBe('Где моя посылка?');
  });

  it('markup in a translation is text', () => {
    const evil = '<img src=x onerror="window.__x=1">';
    show(ru({ translations: [{ language: 'en', text: evil, provider: 'deepl' }] }));
    expect($('img')).toBeNull();
    expect($('[data-testid="message-text"]')!.textContent).toBe(evil);
  });
});

const ME: Agent = { id: 'ag_me', email: 'a@x', name: 'A', status: 'online', language: 'en', languages: ['en'] };
type Call = { method: string; url: string; body: unknown; signal?: AbortSignal | null };

/** `fetch` answering from `answer` (JSON, 200 unless it says); every call is recorded. */
function stubFetch(answer: (c: Call) => { status?: number; body: unknown } | Promise<{ status?: number; body: unknown }>) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, signal: init.signal };
    calls.push(c);
    const r = await answer(c);
    return new Response(JSON.stringify(r.body), { status: r.status ?? 200 });
  });
  return calls;
}

function controller(agent: Agent = ME) {
  return new Controller({ apiBase: '', wsUrl: 'ws://x/ws' }, { token: 't', agent }, { onLoggedOut: () => {} });
}

/** The conversation pane over a controller holding `c` and `messages`; `again()` renders it from the controller's state. */
function pane(c: ConversationView, messages: Message[], setup: TranslationSetup | null = null, agent: Agent = ME) {
  const ctrl = controller(agent);
  ctrl.translation = setup;
  ctrl.state.conversations[c.id] = c;
  ctrl.state.messages[c.id] = messages;
  const again = () =>
    act(() => render(<ConversationPane ctrl={ctrl} conv={ctrl.state.conversations[c.id]} t={t} agentName={(id) => (id === 'ag_me' ? 'you' : id ?? '?')} composerRef={{ current: null }} />, root()));
  again();
  return { ctrl, again };
}

describe('translations in the conversation pane', () => {
  it('each message has its own "Show original" toggle', () => {
    pane(conv('cv'), [ru(), ru({ id: 'm3', text: 'Спасибо', translations: [{ language: 'en', text: 'Thank you', provider: 'deepl' }] })]);
    const [a, b] = $$('[data-testid="message"]');
    act(() => button('Show original', b)!.click());
    expect(a.querySelector('[data-testid="message-text"]')!.textContent).toBe('Where is my parcel?');
    expect(b.querySelector('[data-testid="message-text"]')!.textContent).toBe('Спасибо');
  });

  it('a message.updated with the finished translation re-renders the message', () => {
    const { ctrl, again } = pane(conv('cv'), [ru({ translations: [], translation: { state: 'pending' } })]);
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Translating…');
    ctrl.state = applyEvent(ctrl.state, { type: 'message.updated', conversation_id: 'cv', message: ru({ revision: 1 }) });
    again();
    expect($('[data-testid="translation-state"]')).toBeNull();
    expect($('[data-testid="message-text"]')!.textContent).toBe('Where is my parcel?');
    // the same revision and delivery time (a server that changes only the translation) also replaces it
    ctrl.state = applyEvent(ctrl.state, {
      type: 'message.updated',
      conversation_id: 'cv',
      message: ru({ revision: 1, translations: [{ language: 'en', text: 'Where is my package?', provider: 'google' }] }),
    });
    again();
    expect($('[data-testid="message-text"]')!.textContent).toBe('Where is my package?');
  });

  it('our translated reply shows what we wrote and "Sent in Russian:" the translation, which folds away', () => {
    pane(conv('cv', { language: 'ru' }), [reply({ state: 'done', target: 'ru' })]);
    const m = $('[data-testid="message"]')!;
    expect(m.querySelector('[data-testid="message-text"]')!.textContent).toBe('It ships tomorrow.');
    const toggle = button('Sent in Russian:', m)!;
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(m.querySelector('[data-testid="translation-sent-text"]')!.textContent).toBe('Отправим завтра.');
    act(() => toggle.click());
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(m.querySelector('[data-testid="translation-sent-text"]')).toBeNull();
    expect(m.querySelector('[data-testid="delivery"]')!.textContent).toBe('sent');
  });

  it('a reply being translated is held: "Translating before sending…", and the delivery says held', () => {
    pane(conv('cv', { language: 'ru' }), [reply({ state: 'pending', target: 'ru' }, { translations: [], delivery: { status: 'sending', attempts: 0, updated_at: '2026-01-01T10:05:00.000Z' } })]);
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Translating before sending…');
    const d = $('[data-testid="delivery"]')!;
    expect(d.textContent).toBe('held — not sent yet');
    expect(d.getAttribute('data-held')).toBe('true');
    expect(button('Send original')).toBeUndefined();
  });

  it('a reply sent untranslated says so', () => {
    pane(conv('cv', { language: 'ru' }), [reply({ state: 'sent_original' }, { translations: [] })]);
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Sent untranslated');
    expect($('[data-testid="delivery"]')!.textContent).toBe('sent');
  });

  it('a failed translation being retried is held without buttons', () => {
    pane(conv('cv', { language: 'ru' }), [reply({ state: 'failed', reason: 'timeout', retrying: true, target: 'ru' }, { translations: [] })]);
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Translation failed, retrying');
    expect($('[data-testid="delivery"]')!.getAttribute('data-held')).toBe('true');
    expect(button('Send original')).toBeUndefined();
  });

  it('a held reply whose translation failed: "Send original" calls send-original and shows the answer', async () => {
    const failed = reply({ state: 'failed', reason: 'DeepL: quota exceeded', target: 'ru' }, { translations: [], delivery: { status: 'sending', attempts: 0, updated_at: '2026-01-01T10:05:00.000Z' } });
    const { again } = pane(conv('cv', { language: 'ru' }), [failed]);
    expect($('[data-testid="translation-held"]')!.textContent).toContain('Translation failed: DeepL: quota exceeded');
    const calls = stubFetch(() => ({
      body: { ...failed, translation: { state: 'sent_original' }, delivery: { status: 'sent', attempts: 1, updated_at: '2026-01-01T10:06:00.000Z' } },
    }));
    act(() => button('Send original')!.click());
    expect(button('Send original')!.disabled).toBe(true);
    await flush();
    expect(calls.map((c) => [c.method, c.url])).toEqual([['POST', '/api/v1/conversations/cv/messages/m2/send-original']]);
    again();
    expect($('[data-testid="translation-held"]')).toBeNull();
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Sent untranslated');
    expect($('[data-testid="delivery"]')!.textContent).toBe('sent');
  });

  it('"Retry translation" calls retry-translation; a refusal is said next to the buttons', async () => {
    const failed = reply({ state: 'failed', reason: 'DeepL: quota exceeded', target: 'ru' }, { translations: [] });
    const { again } = pane(conv('cv', { language: 'ru' }), [failed]);
    const calls = stubFetch(() => ({ status: 409, body: { error: { code: 'conflict', message: 'the reply was already sent' } } }));
    act(() => button('Retry translation')!.click());
    await flush();
    expect(calls.map((c) => [c.method, c.url])).toEqual([['POST', '/api/v1/conversations/cv/messages/m2/retry-translation']]);
    expect($('[data-testid="translation-action-error"]')!.textContent).toBe('Could not do that: the reply was already sent');
    expect(button('Retry translation')!.disabled).toBe(false);
    stubFetch(() => ({ body: { ...failed, translation: { state: 'pending', target: 'ru' } } }));
    act(() => button('Retry translation')!.click());
    await flush();
    again();
    expect($('[data-testid="translation-state"]')!.textContent).toBe('Translating before sending…');
  });

  it('the header select overrides the customer language with PUT …/language and takes the answer', async () => {
    const c = conv('cv', { language: 'ru' });
    const { ctrl, again } = pane(c, [ru()], null, { ...ME, languages: ['en', 'he'] });
    const select = $('[data-testid="conversation-language"]') as HTMLSelectElement;
    expect(select.getAttribute('aria-label')).toBe("Customer's language");
    const values = Array.from(select.options).map((o) => o.value);
    expect(values).toEqual(expect.arrayContaining(['ru', 'en', 'he', 'es', 'pt', 'de', 'fr', 'uk', 'zh', 'ja', 'ko', 'ar', 'tr']));
    expect(values).toHaveLength(13);
    const calls = stubFetch(() => ({ body: { ...c, language: 'es', version: 2 } }));
    select.value = 'es';
    act(() => void select.dispatchEvent(new Event('change', { bubbles: true })));
    await flush();
    expect(calls).toEqual([expect.objectContaining({ method: 'PUT', url: '/api/v1/conversations/cv/language', body: { language: 'es' } })]);
    expect(ctrl.state.conversations.cv.language).toBe('es');
    again();
    expect(($('[data-testid="conversation-language"]') as HTMLSelectElement).value).toBe('es');
  });

  it('"Daily translation quota reached for DeepL" shows in the conversation; nothing when no quota is reached', () => {
    pane(conv('cv'), [], { enabled: true, providers: ['deepl', 'google'], quota: [{ provider: 'deepl', used_today: 500000, limit: 500000, reached: true }, { provider: 'google', used_today: 3, limit: null, reached: false }] });
    expect($('[data-testid="translation-quota"]')!.textContent).toBe('Daily translation quota reached for DeepL');
    pane(conv('cv'), [], { enabled: true, providers: ['deepl'], quota: [{ provider: 'deepl', used_today: 1, limit: 500000, reached: false }] });
    expect($('[data-testid="translation-quota"]')).toBeNull();
  });

  it('detection only: the header language tooltip says translation is off', () => {
    pane(conv('cv', { language: 'ru' }), [], { enabled: false, providers: [], quota: [] });
    expect($('[data-testid="conversation-language"]')!.getAttribute('title')).toContain('Translation is off: detection only (set OMNIDESK_TRANSLATOR)');
    pane(conv('cv', { language: 'ru' }), [], { enabled: true, providers: ['deepl'], quota: [] });
    expect($('[data-testid="conversation-language"]')!.getAttribute('title')).not.toContain('Translation is off');
  });
});

describe('the composer preview', () => {
  type Deferred = { text: string; signal: AbortSignal; resolve: (p: TranslationPreview) => void; reject: (e: unknown) => void };
  let asked: Deferred[];
  const load = (text: string, signal: AbortSignal) =>
    new Promise<TranslationPreview>((resolve, reject) => void asked.push({ text, signal, resolve, reject }));
  const view = (text: string, active = true) => act(() => render(<TranslationPreviewView text={text} language="ru" active={active} load={load} t={t} />, root()));
  const wait = (ms: number) => act(async () => void (await vi.advanceTimersByTimeAsync(ms)));
  beforeEach(() => {
    asked = [];
    vi.useFakeTimers();
  });

  it('asks 400 ms after the typing stops, for the last text only, and shows what the customer will receive', async () => {
    view('Hel');
    await wait(300);
    view('Hello');
    await wait(399);
    expect(asked).toHaveLength(0);
    await wait(1);
    expect(asked.map((a) => a.text)).toEqual(['Hello']);
    asked[0].resolve({ needed: true, language: 'ru', text: 'Привет', provider: 'deepl' });
    await wait(0);
    expect($('[data-testid="translation-preview"]')!.textContent).toBe('The customer will receive (Russian): Привет');
  });

  it('a stale answer is ignored and its request cancelled', async () => {
    view('Hello');
    await wait(400);
    view('Hello there');
    expect(asked[0].signal.aborted).toBe(true);
    asked[0].resolve({ needed: true, language: 'ru', text: 'Привет', provider: 'deepl' });
    await wait(0);
    expect($('[data-testid="translation-preview"]')).toBeNull();
    await wait(400);
    expect(asked.map((a) => a.text)).toEqual(['Hello', 'Hello there']);
    asked[1].resolve({ needed: true, language: 'ru', text: 'Привет всем', provider: 'deepl' });
    await wait(0);
    expect($('[data-testid="translation-preview-text"]')!.textContent).toBe('Привет всем');
    // typing on: the preview stays, marked stale, until the next answer
    view('Hello there!');
    expect($('[data-testid="translation-preview"]')!.getAttribute('data-stale')).toBe('true');
  });

  it('nothing when no translation is needed; the error when the provider failed', async () => {
    view('Да');
    await wait(400);
    asked[0].resolve({ needed: false, language: 'ru' });
    await wait(0);
    expect($('[data-testid="translation-preview"]')).toBeNull();
    view('Thanks');
    await wait(400);
    asked[1].resolve({ needed: true, language: 'ru', error: 'quota exceeded' });
    await wait(0);
    expect($('[data-testid="translation-preview"]')!.textContent).toBe('The customer will receive (Russian): No preview of the translation: quota exceeded');
  });

  it('no request for an empty draft or when inactive', async () => {
    view('   ');
    await wait(1000);
    view('Hello', false);
    await wait(1000);
    expect(asked).toHaveLength(0);
    expect(root().textContent).toBe('');
  });
});

describe('the composer preview in the pane', () => {
  const type = (text: string) => {
    const box = $('[data-testid="composer"]') as HTMLTextAreaElement;
    box.value = text;
    act(() => void box.dispatchEvent(new Event('input', { bubbles: true })));
  };
  const on: TranslationSetup = { enabled: true, providers: ['deepl'], quota: [] };

  it('previews through POST …/translation-preview when the customer writes a language the agent does not read', async () => {
    const calls = stubFetch(() => ({ body: { needed: true, language: 'ru', text: 'Отправим завтра.', provider: 'deepl' } }));
    pane(conv('cv', { language: 'ru' }), [], on);
    type('It ships tomorrow.');
    await act(async () => void (await new Promise((r) => setTimeout(r, 450))));
    await flush();
    expect(calls).toEqual([expect.objectContaining({ method: 'POST', url: '/api/v1/conversations/cv/translation-preview', body: { text: 'It ships tomorrow.' } })]);
    expect($('[data-testid="translation-preview"]')!.textContent).toBe('The customer will receive (Russian): Отправим завтра.');
  });

  it('no preview for a language the agent reads, or when translation is off', async () => {
    const calls = stubFetch(() => ({ body: { needed: false, language: 'en' } }));
    pane(conv('cv', { language: 'en' }), [], on);
    type('Hi');
    pane(conv('cv', { language: 'ru' }), [], { ...on, enabled: false });
    type('Hi');
    await act(async () => void (await new Promise((r) => setTimeout(r, 450))));
    expect(calls).toHaveLength(0);
    expect($('[data-testid="translation-preview"]')).toBeNull();
  });
});

describe('my languages', () => {
  const open = (me: Pick<Agent, 'language' | 'languages'>, onSave = vi.fn(async () => null as string | null), setup: TranslationSetup | null = { enabled: true, providers: ['deepl'], quota: [] }) => {
    act(() => render(<MyLanguages me={me} setup={setup} t={t} onSave={onSave} />, root()));
    act(() => button('My languages')!.click());
    return onSave;
  };
  const check = (tag: string) => {
    const box = root().querySelector(`[data-language="${tag}"] input`) as HTMLInputElement;
    act(() => box.click());
  };

  it('opens a dialog with the own language and the others read, and saves { language, reads }', async () => {
    const onSave = open({ language: 'en', languages: ['en', 'de'] });
    const dialog = $('[role="dialog"]')!;
    expect(dialog.getAttribute('aria-labelledby')).toBe('my-languages-title');
    expect($('#my-languages-title')!.textContent).toBe('My languages');
    const own = $('[data-testid="own-language"]') as HTMLSelectElement;
    expect(own.value).toBe('en');
    expect(document.activeElement).toBe(own);
    expect((root().querySelector('[data-language="de"] input') as HTMLInputElement).checked).toBe(true);
    expect(root().querySelector('[data-language="en"] input')).toBeNull(); // the own language is not an "also"
    own.value = 'ru';
    act(() => void own.dispatchEvent(new Event('change', { bubbles: true })));
    check('zh');
    check('en');
    check('en');
    act(() => button('Save')!.click());
    await flush();
    expect(onSave).toHaveBeenCalledWith('ru', ['de', 'zh']);
    expect($('[role="dialog"]')).toBeNull();
  });

  it('a refusal stays in the dialog; Esc closes it without saving', async () => {
    const onSave = open({ language: 'en', languages: ['en'] }, vi.fn(async () => 'forbidden'));
    act(() => button('Save')!.click());
    await flush();
    expect($('[data-testid="languages-error"]')!.textContent).toBe('Could not save: forbidden');
    act(() => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect($('[role="dialog"]')).toBeNull();
    expect(onSave).toHaveBeenCalledTimes(1);
  });

  it('says when translation is off (detection only)', () => {
    open({ language: 'en', languages: ['en'] }, undefined, { enabled: false, providers: [], quota: [] });
    expect($('[data-testid="translation-off"]')!.textContent).toBe('Translation is off: detection only (set OMNIDESK_TRANSLATOR)');
    act(() => render(null, root()));
    open({ language: 'en', languages: ['en'] });
    expect($('[data-testid="translation-off"]')).toBeNull();
  });

  it('the controller saves with PUT /api/v1/agents/me/languages and takes the agent it gets back', async () => {
    const calls = stubFetch((c) => ({ body: { ...ME, language: (c.body as { language: string }).language, languages: ['ru', 'en', 'zh'] } }));
    const ctrl = controller();
    expect(await ctrl.saveLanguages('ru', ['en', 'zh'])).toBeNull();
    expect(calls).toEqual([expect.objectContaining({ method: 'PUT', url: '/api/v1/agents/me/languages', body: { language: 'ru', reads: ['en', 'zh'] } })]);
    expect(ctrl.me.language).toBe('ru');
    expect(ctrl.me.languages).toEqual(['ru', 'en', 'zh']);
    stubFetch(() => ({ status: 400, body: { error: { code: 'bad_request', message: 'unknown language "xx"' } } }));
    expect(await ctrl.saveLanguages('xx', [])).toBe('unknown language "xx"');
    expect(ctrl.me.language).toBe('ru');
  });
});

describe('the translation setup from the server', () => {
  it('is read once a minute at most; a server without it shows nothing and no error', async () => {
    const calls = stubFetch(() => ({ body: { enabled: false, providers: [], quota: [] } }));
    const ctrl = controller();
    await ctrl.loadTranslation(1_000_000);
    await ctrl.loadTranslation(1_030_000);
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/translation']);
    expect(ctrl.translation).toEqual({ enabled: false, providers: [], quota: [] });
    const old = controller();
    stubFetch(() => ({ status: 404, body: { error: { code: 'not_found', message: 'no route' } } }));
    await old.loadTranslation();
    expect(old.translation).toBeNull();
    expect(old.error).toBeNull();
  });
});
