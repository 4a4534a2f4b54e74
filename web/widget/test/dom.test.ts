import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PANEL_GLOBAL, addCss, type LoaderContext } from '../src/common';
import { Controller } from '../src/panel/controller';
import { translator } from '../src/panel/i18n';
import { mountPanel, renderItem } from '../src/panel/ui';
import { FakeServer, FakeSocket, MemStorage, flush, msg } from './fake';

const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

function fakeCtx(lang: LoaderContext['lang'] = 'en') {
  const host = document.createElement('div');
  document.body.appendChild(host);
  const shadow = host.attachShadow({ mode: 'open' });
  const root = document.createElement('div');
  root.dir = lang === 'ar' ? 'rtl' : 'ltr';
  const launcher = document.createElement('button');
  launcher.setAttribute('aria-label', 'Open chat');
  root.appendChild(launcher);
  shadow.appendChild(root);
  const badges: number[] = [];
  const ctx: LoaderContext = { base: 'http://chat.test', api: 'http://chat.test', ws: 'ws://chat.test/ws', websiteId: 'ws_1', lang, shadow, root, launcher, setBadge: (n) => badges.push(n), background: false, user: null };
  return { ctx, badges, shadow };
}

/**
 * The CSS a shadow root has, in cascade order: its <style> elements, then its adopted sheets (as
 * the CSSOM writes them back: `a,b { c: d; }`).
 */
function shadowCss(shadow: ShadowRoot): string[] {
  return [
    ...Array.from(shadow.querySelectorAll('style'), (s) => s.textContent ?? ''),
    ...Array.from(shadow.adoptedStyleSheets, (sheet) => Array.from(sheet.cssRules, (r) => r.cssText).join('\n')),
  ];
}

afterEach(() => {
  document.body.replaceChildren();
  document.head.replaceChildren();
  localStorage.clear();
});

describe('rendering is text-only', () => {
  it('an agent name and text with markup stay text', () => {
    const el = renderItem({ kind: 'message', message: msg({ id: 'x1', author_name: XSS, text: XSS }) }, translator('en'), 'en', { retry() {}, discard() {} });
    expect(el.querySelector('img,script')).toBeNull();
    expect(el.querySelector('.od-who')!.textContent).toBe(XSS);
    expect(el.querySelector('.od-bubble')!.textContent).toBe(XSS);
    expect(el.getAttribute('data-omnidesk-message')).toBe('x1');
    expect(el.getAttribute('data-direction')).toBe('outbound');
    expect((window as unknown as { __xss?: number }).__xss).toBeUndefined();
  });

  it('system events render as notes; the visitor’s own messages carry ticks and inbound direction', () => {
    const t = translator('en');
    const note = renderItem({ kind: 'message', message: msg({ id: 's1', author: { kind: 'system' }, text: 'Website → Telegram' }) }, t, 'en', { retry() {}, discard() {} });
    expect(note.className).toBe('od-note');
    const mine = renderItem({ kind: 'message', message: msg({ id: 'm1', direction: 'inbound', author: { kind: 'contact' }, delivery: { status: 'received' } }) }, t, 'en', { retry() {}, discard() {} });
    expect(mine.getAttribute('data-direction')).toBe('inbound');
    expect(mine.querySelector('.od-tick')!.getAttribute('aria-label')).toBe('Sent');
    const retried: string[] = [];
    const failed = renderItem({ kind: 'pending', pending: { client_id: 'w-1', text: 'x', created_at: 0, state: 'failed', attempts: 6 } }, t, 'en', { retry: (id) => retried.push(id), discard() {} });
    expect(failed.getAttribute('data-omnidesk-message')).toBe('');
    (failed.querySelector('[data-omnidesk-retry]') as HTMLButtonElement).click();
    expect(retried).toEqual(['w-1']);
  });
});

describe('AI answers', () => {
  const none = { retry() {}, discard() {} };
  it('an AI answer carries a small "AI" label next to the name; an agent or bot message does not', () => {
    const t = translator('en');
    const ai = renderItem({ kind: 'message', message: msg({ id: 'a1', author: { kind: 'ai' }, author_name: 'Shop', text: 'Delivery takes 2–3 working days.' }) }, t, 'en', none);
    const label = ai.querySelector('[data-omnidesk-ai]')!;
    expect(label.textContent).toBe('AI');
    expect(label.getAttribute('title')).toBe('An automatic answer from our AI assistant');
    expect(ai.querySelector('.od-who')!.firstChild!.textContent).toBe('Shop');
    expect(ai.querySelector('.od-bubble')!.textContent).toBe('Delivery takes 2–3 working days.');
    const unnamed = renderItem({ kind: 'message', message: msg({ id: 'a2', author: { kind: 'ai' }, author_name: null }) }, t, 'en', none);
    expect(unnamed.querySelector('.od-who')!.textContent).toBe('AssistantAI');
    for (const kind of ['agent', 'bot'] as const) {
      expect(renderItem({ kind: 'message', message: msg({ id: `x-${kind}`, author: { kind } }) }, t, 'en', none).querySelector('[data-omnidesk-ai]')).toBeNull();
    }
  });

  it('the label is translated (and only one per message)', () => {
    const el = renderItem({ kind: 'message', message: msg({ id: 'a1', author: { kind: 'ai' } }) }, translator('ru'), 'ru', none);
    expect(Array.from(el.querySelectorAll('[data-omnidesk-ai]')).map((e) => e.textContent)).toEqual(['ИИ']);
  });
});

describe('panel', () => {
  beforeEach(() => {
    FakeSocket.all = [];
  });

  async function mounted(lang: LoaderContext['lang'] = 'en', server = new FakeServer()) {
    const { ctx, badges, shadow } = fakeCtx(lang);
    const c = new Controller({ base: ctx.base, websiteId: 'ws_1', storage: new MemStorage() as unknown as Storage, fetch: server.fetch as typeof fetch, createSocket: (u) => new FakeSocket(u) });
    const handle = mountPanel(ctx, c, translator(lang));
    await c.start();
    await flush();
    return { c, handle, shadow, badges, ctx, server };
  }

  it('has the test hooks, labels, a dialog role and a 16 px composer', async () => {
    const { handle, shadow, ctx } = await mounted();
    handle.open();
    const panel = shadow.querySelector('[role=dialog]')!;
    expect(panel.hasAttribute('hidden')).toBe(false);
    expect(ctx.launcher.getAttribute('aria-expanded')).toBe('true');
    const composer = shadow.querySelector('[data-omnidesk-composer]') as HTMLTextAreaElement;
    expect(composer.getAttribute('aria-label')).toBe('Message');
    expect(shadow.activeElement).toBe(composer);
    expect(shadow.querySelector('[data-omnidesk-telegram]')!.textContent).toBe('Continue on Telegram');
    for (const b of shadow.querySelectorAll('button')) expect(b.getAttribute('aria-label') || b.textContent!.trim(), b.outerHTML).not.toBe('');
    // An adopted sheet, no <style>: a host page's CSP without 'unsafe-inline' would block that.
    expect(shadow.querySelector('style')).toBeNull();
    expect(shadowCss(shadow)).toHaveLength(1);
    expect(shadowCss(shadow)[0]).toMatch(/input,\s*textarea\s*\{[^}]*font-size:\s*16px/);
  });

  it('Esc closes and gives focus back to the launcher', async () => {
    const { handle, shadow, ctx } = await mounted();
    handle.open();
    shadow.querySelector('[role=dialog]')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(handle.isOpen()).toBe(false);
    expect(ctx.launcher.getAttribute('aria-expanded')).toBe('false');
  });

  it('Enter sends; the message appears with its id and direction; the agent reply is announced', async () => {
    const { handle, shadow, c } = await mounted();
    handle.open();
    const composer = shadow.querySelector('[data-omnidesk-composer]') as HTMLTextAreaElement;
    composer.value = XSS;
    composer.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    await flush();
    const el = shadow.querySelector('[data-omnidesk-message][data-direction=inbound]')!;
    expect(el.getAttribute('data-omnidesk-message')).toMatch(/^m_/);
    expect(el.querySelector('.od-bubble')!.textContent).toBe(XSS);
    expect(shadow.querySelector('img')).toBeNull();
    expect(composer.value).toBe('');
    const conv = c.state.session!.conversation_id!;
    c.onEvent({ type: 'message.created', conversation_id: conv, message: msg({ id: 'r1', conversation_id: conv, text: 'We are on it', created_at: Date.now() + 1e6 }) });
    expect(shadow.querySelector('[data-omnidesk-message="r1"]')!.textContent).toContain('We are on it');
    expect(shadow.querySelector('[aria-live=polite][aria-atomic]')!.textContent).toBe('New message from Ann: We are on it');
  });

  it('the badge counts agent messages while closed', async () => {
    const { c, badges } = await mounted();
    c.send('hi');
    await flush();
    const conv = c.state.session!.conversation_id!;
    c.onEvent({ type: 'message.created', conversation_id: conv, message: msg({ id: 'r1', conversation_id: conv, created_at: Date.now() + 1e6 }) });
    expect(badges[badges.length - 1]).toBe(1);
  });

  it('Telegram: shows the t.me link in a new tab and a QR code', async () => {
    const { handle, shadow } = await mounted();
    handle.open();
    (shadow.querySelector('[data-omnidesk-telegram]') as HTMLButtonElement).click();
    await flush();
    const a = shadow.querySelector('[data-omnidesk-telegram-link]') as HTMLAnchorElement;
    expect(a.getAttribute('href')).toBe('https://t.me/shop_bot?start=abc');
    expect(a.getAttribute('target')).toBe('_blank');
    expect(a.getAttribute('rel')).toContain('noopener');
    expect(shadow.querySelector('[data-omnidesk-qr] svg')).not.toBeNull();
  });

  it('Arabic renders right to left with Arabic strings', async () => {
    const { handle, shadow } = await mounted('ar');
    handle.open();
    expect(shadow.querySelector('.od-panel')!.closest('[dir]')!.getAttribute('dir')).toBe('rtl');
    expect(shadow.querySelector('[data-omnidesk-composer]')!.getAttribute('aria-label')).toBe('رسالة');
  });

  it('a refused origin shows a clear unavailable state', async () => {
    const server = new FakeServer();
    server.refuseOrigin = true;
    const { handle, shadow } = await mounted('en', server);
    handle.open();
    const panel = shadow.querySelector('[data-omnidesk-panel]')!;
    expect(panel.getAttribute('data-omnidesk-state')).toBe('refused');
    expect(shadow.querySelector('.od-banner')!.textContent).toContain('Chat is not available on this website.');
  });
});

describe('loader (widget.js)', () => {
  it('draws the launcher in an open shadow root, RTL for ar, without any network request until opened', async () => {
    const fetchSpy = vi.fn();
    vi.stubGlobal('fetch', fetchSpy);
    const WS = vi.fn();
    vi.stubGlobal('WebSocket', WS);
    const s = document.createElement('script');
    s.setAttribute('data-website', 'ws_9');
    s.setAttribute('data-lang', 'ar');
    s.src = 'https://chat.example.com/widget.js';
    document.head.appendChild(s);
    vi.resetModules();
    await import('../src/loader');
    const host = document.querySelector('[data-omnidesk-host=ws_9]')!;
    const launcher = host.shadowRoot!.querySelector('[data-omnidesk-launcher]') as HTMLButtonElement;
    expect(launcher.getAttribute('aria-label')).toBe('فتح الدردشة');
    expect(host.shadowRoot!.querySelector('.od')!.getAttribute('dir')).toBe('rtl');
    expect(host.shadowRoot!.querySelector('style')).toBeNull();
    expect(shadowCss(host.shadowRoot!)).toHaveLength(1);
    expect(shadowCss(host.shadowRoot!)[0]).toMatch(/:host\s*\{\s*all:\s*initial/);
    expect(document.querySelectorAll('script[src*="panel.js"]')).toHaveLength(0);
    expect(fetchSpy).not.toHaveBeenCalled();
    // opening injects the panel script from <base>/widget/panel.js; it registers on the global
    const opened: string[] = [];
    const w = window as unknown as Record<string, unknown>;
    w[PANEL_GLOBAL] = undefined;
    const append = document.head.appendChild.bind(document.head);
    const injected: string[] = [];
    vi.spyOn(document.head, 'appendChild').mockImplementation(<T extends Node>(n: T): T => {
      const src = (n as unknown as HTMLScriptElement).src;
      if (src) injected.push(src);
      // what panel.js does when it runs: register its factory on the private global
      w[PANEL_GLOBAL] = (ctx: LoaderContext) => ({ open: () => opened.push(ctx.base), close() {}, isOpen: () => false });
      return append(n);
    });
    launcher.click();
    expect(injected).toEqual(['https://chat.example.com/widget/panel.js']);
    await flush();
    expect(opened).toEqual(['https://chat.example.com']);
    expect(fetchSpy).not.toHaveBeenCalled();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });
});

describe('addCss (styles that a strict host CSP does not block)', () => {
  afterEach(() => vi.unstubAllGlobals());
  const shadowRoot = () => document.body.appendChild(document.createElement('div')).attachShadow({ mode: 'open' });

  it('adopts constructable stylesheets, `first` before the ones already there', () => {
    const shadow = shadowRoot();
    addCss(shadow, '.loader{color:red}');
    addCss(shadow, '.panel{color:blue}', true);
    expect(shadow.querySelector('style')).toBeNull();
    const css = shadowCss(shadow);
    expect(css).toHaveLength(2);
    expect(css[0]).toMatch(/^\.panel\s*\{/);
    expect(css[1]).toMatch(/^\.loader\s*\{/);
  });

  it('falls back to <style> elements, in the same order, without constructable stylesheets', () => {
    vi.stubGlobal('CSSStyleSheet', undefined);
    const shadow = shadowRoot();
    shadow.appendChild(document.createElement('div'));
    addCss(shadow, '.loader{color:red}');
    addCss(shadow, '.panel{color:blue}', true);
    expect(shadow.adoptedStyleSheets).toHaveLength(0);
    expect(Array.from(shadow.children, (e) => e.tagName.toLowerCase())).toEqual(['style', 'div', 'style']);
    expect(shadowCss(shadow)).toEqual(['.panel{color:blue}', '.loader{color:red}']);
  });

  it('falls back to <style> when the constructor throws (an engine that only half has them)', () => {
    vi.stubGlobal(
      'CSSStyleSheet',
      class {
        constructor() {
          throw new TypeError('Illegal constructor');
        }
        replaceSync(): void {}
      },
    );
    const shadow = shadowRoot();
    addCss(shadow, '.loader{color:red}');
    expect(shadowCss(shadow)).toEqual(['.loader{color:red}']);
  });
});
