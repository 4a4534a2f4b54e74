import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoaderContext } from '../src/common';
import { Controller } from '../src/panel/controller';
import { translator } from '../src/panel/i18n';
import { chosenAt, timeline } from '../src/panel/state';
import { mountPanel, renderButtons, renderItem } from '../src/panel/ui';
import type { WebButton } from '../src/panel/types';
import { FakeServer, FakeSocket, MemStorage, flush, msg } from './fake';

const t = translator('en');
const HUMAN: WebButton = { text: 'Talk to a person', data: 'human' };
const STARS: WebButton[] = [1, 2, 3, 4, 5].map((n) => ({ text: '\u2b50'.repeat(n), data: `csat:${n}` }));

afterEach(() => {
  document.body.replaceChildren();
  localStorage.clear();
});

describe('reply buttons', () => {
  it('a message with buttons shows them as chips under it; pressing one hands its message id and button over', () => {
    const pressed: [string, WebButton][] = [];
    const el = renderItem(
      { kind: 'message', message: msg({ id: 'b1', author: { kind: 'bot' }, text: 'Hi! How can we help?', buttons: [HUMAN] }) },
      t,
      'en',
      { retry() {}, discard() {}, choose: (id, b) => pressed.push([id, b]) },
    );
    const chips = el.querySelectorAll<HTMLButtonElement>('[data-omnidesk-buttons] button');
    expect(Array.from(chips).map((b) => [b.textContent, b.className, b.disabled])).toEqual([['Talk to a person', 'od-choice', false]]);
    expect(el.querySelector('.od-bubble')!.nextElementSibling!.hasAttribute('data-omnidesk-buttons')).toBe(true);
    chips[0].click();
    expect(pressed).toEqual([['b1', HUMAN]]);
  });

  it('a message without buttons has no button row', () => {
    expect(renderItem({ kind: 'message', message: msg({ id: 'x' }) }, t, 'en', { retry() {}, discard() {} }).querySelector('[data-omnidesk-buttons]')).toBeNull();
    expect(renderButtons(msg({ id: 'y', buttons: [] }), undefined, t)).toBeNull();
  });

  it('a label with markup stays text', () => {
    const el = renderButtons(msg({ id: 'x', buttons: [{ text: '<img src=x onerror=alert(1)>', data: 'human' }] }), undefined, t)!;
    expect(el.querySelector('img')).toBeNull();
    expect(el.textContent).toBe('<img src=x onerror=alert(1)>');
  });

  it('a rating question shows five labelled star buttons in a group; arrow keys move between them', () => {
    const pressed: string[] = [];
    const box = renderButtons(msg({ id: 'q1', buttons: STARS }), undefined, t, (_id, b) => pressed.push(b.data))!;
    document.body.append(box);
    expect(box.getAttribute('role')).toBe('group');
    expect(box.getAttribute('aria-label')).toBe('Rate our help');
    const stars = Array.from(box.querySelectorAll<HTMLButtonElement>('button'));
    expect(stars.map((b) => b.getAttribute('aria-label'))).toEqual(['Rate 1 of 5', 'Rate 2 of 5', 'Rate 3 of 5', 'Rate 4 of 5', 'Rate 5 of 5']);
    expect(stars.every((b) => b.className === 'od-star' && b.getAttribute('type') === 'button' && !b.disabled)).toBe(true);
    stars[0].focus();
    stars[0].dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    expect(document.activeElement).toBe(stars[1]);
    stars[1].dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }));
    expect(document.activeElement).toBe(stars[0]);
    stars[3].click();
    expect(pressed).toEqual(['csat:4']);
    expect(translator('ru')('rateN', { n: 4 })).toBe('Оценка 4 из 5');
  });

  it('once a button was pressed they are all disabled and the pressed one shows as selected', () => {
    const chips = renderButtons(msg({ id: 'b1', buttons: [HUMAN, { text: 'Track my order', data: 'track' }] }), 'human', t)!;
    expect(Array.from(chips.querySelectorAll('button')).map((b) => [b.disabled, b.getAttribute('aria-pressed')])).toEqual([
      [true, 'true'],
      [true, 'false'],
    ]);
    const stars = renderButtons(msg({ id: 'q1', buttons: STARS }), 'csat:4', t)!;
    const all = Array.from(stars.querySelectorAll('button'));
    expect(all.every((b) => b.disabled)).toBe(true);
    expect(all.map((b) => b.classList.contains('od-on'))).toEqual([true, true, true, true, false]);
    expect(all.map((b) => b.getAttribute('aria-pressed'))).toEqual(['false', 'false', 'false', 'true', 'false']);
  });

  it('the pressed button is the one waiting in the outbox, or after a reload a later message of the visitor saying its label', () => {
    const q = msg({ id: 'q1', created_at: 1000, buttons: STARS });
    const other = msg({ id: 'm2', created_at: 2000, direction: 'inbound', author: { kind: 'contact' }, text: 'thanks' });
    expect(chosenAt([q, other], 0, [])).toBeUndefined();
    const pending = [{ client_id: 'w-1', text: STARS[2].text, created_at: 3000, state: 'queued' as const, attempts: 0, choice: 'csat:3', answers: 'q1' }];
    expect(chosenAt([q, other], 0, pending)).toBe('csat:3');
    const echoed = msg({ id: 'm3', created_at: 3000, direction: 'inbound', author: { kind: 'contact' }, text: STARS[4].text });
    expect(chosenAt([q, other, echoed], 0, [])).toBe('csat:5');
    // An earlier message saying a label is not an answer.
    expect(chosenAt([echoed, q], 1, [])).toBeUndefined();
    const items = timeline([q, other, echoed], []);
    expect(items[0]).toEqual({ kind: 'message', message: q, chosen: 'csat:5' });
    expect(items[1]).toEqual({ kind: 'message', message: other });
  });
});

describe('sending a choice', () => {
  beforeEach(() => {
    FakeSocket.all = [];
  });

  async function withQuestion(buttons: WebButton[]) {
    const server = new FakeServer();
    const c = new Controller({ base: 'http://chat.test', websiteId: 'ws_1', storage: new MemStorage() as unknown as Storage, fetch: server.fetch as typeof fetch, createSocket: (u) => new FakeSocket(u), random: () => 0 });
    await c.start();
    c.send('hello');
    await flush();
    const conv = c.state.session!.conversation_id!;
    const question = msg({ id: 'q1', conversation_id: conv, author: { kind: 'bot' }, author_name: null, text: 'How would you rate our help?', created_at: server.now++, buttons });
    server.messages.push(question);
    c.onEvent({ type: 'message.created', conversation_id: conv, message: question });
    return { c, server, question };
  }

  it('posts the label as text and the data as choice, once', async () => {
    const { c, server } = await withQuestion(STARS);
    expect(c.choose('q1', STARS[4])).toBe(true);
    expect(c.choose('q1', STARS[0])).toBe(false);
    await flush();
    const sent = server.posts[server.posts.length - 1];
    expect(sent).toMatchObject({ text: '\u2b50\u2b50\u2b50\u2b50\u2b50', choice: 'csat:5' });
    expect(sent.client_id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(server.posts.filter((p) => p.choice)).toHaveLength(1);
    expect(c.state.pending).toHaveLength(0);
    const items = timeline(c.state.messages, c.state.pending);
    expect(items.find((i) => i.kind === 'message' && i.message.id === 'q1')).toMatchObject({ chosen: 'csat:5' });
  });

  it('a refused choice shows as not sent; deleting it frees the buttons again', async () => {
    const { c, server } = await withQuestion([HUMAN]);
    server.messages = server.messages.filter((m) => m.id !== 'q1'); // the server never offered it
    c.choose('q1', HUMAN);
    await flush();
    const p = c.state.pending[0];
    expect(p).toMatchObject({ state: 'failed', reason: 'unknown_choice', choice: 'human', answers: 'q1' });
    expect(timeline(c.state.messages, c.state.pending)[1]).toMatchObject({ chosen: 'human' });
    c.discard(p.client_id);
    expect(timeline(c.state.messages, c.state.pending).find((i) => i.kind === 'message' && i.message.id === 'q1')).not.toHaveProperty('chosen');
  });

  it('in the panel: chips under the message, a press posts the choice and spends the buttons', async () => {
    const host = document.createElement('div');
    document.body.appendChild(host);
    const shadow = host.attachShadow({ mode: 'open' });
    const root = document.createElement('div');
    const launcher = document.createElement('button');
    root.append(launcher);
    shadow.append(root);
    const ctx: LoaderContext = { base: 'http://chat.test', api: 'http://chat.test', ws: 'ws://chat.test/ws', websiteId: 'ws_1', lang: 'en', shadow, root, launcher, setBadge() {}, background: false, user: null };
    const server = new FakeServer();
    const c = new Controller({ base: ctx.base, websiteId: 'ws_1', storage: new MemStorage() as unknown as Storage, fetch: server.fetch as typeof fetch, createSocket: (u) => new FakeSocket(u) });
    const handle = mountPanel(ctx, c, t);
    await c.start();
    handle.open();
    c.send('hello');
    await flush();
    const conv = c.state.session!.conversation_id!;
    const greeting = msg({ id: 'g1', conversation_id: conv, author: { kind: 'bot' }, author_name: null, text: 'A person can help too.', created_at: server.now++, buttons: [HUMAN] });
    server.messages.push(greeting);
    c.onEvent({ type: 'message.created', conversation_id: conv, message: greeting });
    const chip = shadow.querySelector<HTMLButtonElement>('[data-omnidesk-message="g1"] [data-omnidesk-choice="human"]')!;
    expect(chip.textContent).toBe('Talk to a person');
    chip.click();
    expect(shadow.activeElement).toBe(shadow.querySelector('[data-omnidesk-composer]'));
    await flush();
    expect(server.posts[server.posts.length - 1]).toMatchObject({ text: 'Talk to a person', choice: 'human' });
    const spent = shadow.querySelector<HTMLButtonElement>('[data-omnidesk-message="g1"] [data-omnidesk-choice="human"]')!;
    expect(spent.disabled).toBe(true);
    expect(spent.getAttribute('aria-pressed')).toBe('true');
    expect(shadow.querySelector('[data-omnidesk-message="g1"] [data-omnidesk-buttons]')!.getAttribute('data-omnidesk-buttons')).toBe('chosen');
    const mine = Array.from(shadow.querySelectorAll('[data-direction=inbound] .od-bubble')).map((e) => e.textContent);
    expect(mine).toEqual(['hello', 'Talk to a person']);
  });
});
