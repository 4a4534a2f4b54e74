// The panel's DOM, plain and small. Every name and text from the server or the visitor is set
// with textContent (or an attribute), never parsed as markup, so an XSS payload stays text.

import { addCss, type Lang, type LoaderContext, type PanelHandle } from '../common';
import type { Controller, ViewState } from './controller';
import type { T } from './i18n';
import type { Pending } from './outbox';
import { qrSvg } from './qr';
import { timeline, type Item } from './state';
import { PANEL_CSS } from './styles';
import type { WebAttachment, WebButton, WebMessage } from './types';
import { MAX_FILE_MB, MAX_FILES, type Upload } from './controller';

type Props = { [k: string]: string | boolean | undefined | ((e: Event) => void) };

/** createElement with attributes, `on*` listeners and text/element children (text via textContent). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

const SEND_ICON = 'M3 20.5 21 12 3 3.5v6.6l12 1.9-12 1.9z';
const CLIP_ICON = 'M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z';

function icon(d: string): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', d);
  svg.appendChild(p);
  return svg;
}

/** A followable link: absolute http(s), or a path on the API (`/files/...`) resolved against it. */
export function fileUrl(url: string | null | undefined, base: string): string | null {
  if (!url) return null;
  if (/^https?:\/\//i.test(url)) return url;
  return /^\/(?![/\\])/.test(url) ? base + url : null;
}

export function size(n: number | null | undefined): string {
  if (!n || n < 0) return '';
  return n < 1024 ? `${n} B` : n < 1048576 ? `${Math.ceil(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

const KINDS = ['photo', 'file', 'location', 'contact', 'poll', 'voice', 'video', 'audio', 'sticker'] as const;

/** One line for what cannot be shown itself: "Location 52.520000, 13.405000", "Poll: ...". */
export function describe(a: WebAttachment, t: T): string {
  const k = a.kind === 'image' ? 'photo' : (KINDS as readonly string[]).includes(a.kind) ? (a.kind as (typeof KINDS)[number]) : 'file';
  const extra =
    a.kind === 'location' && typeof a.latitude === 'number' && typeof a.longitude === 'number'
      ? [a.title, `${a.latitude.toFixed(6)}, ${a.longitude.toFixed(6)}`]
      : a.kind === 'contact'
        ? [a.title, a.phone]
        : a.kind === 'dice'
          ? [a.emoji, a.value]
          : a.kind === 'sticker'
            ? [a.emoji]
            : [a.title ?? a.file_name, size(a.size_bytes)];
  const rest = extra.filter((x) => x !== null && x !== undefined && x !== '').join(' ');
  return a.kind === 'dice' ? rest || '?' : rest ? `${t(k)}: ${rest}` : t(k);
}

/** A message's attachments: pictures inline (click: new tab), files as download links, the rest as a line. */
export function renderAttachments(list: WebAttachment[] | undefined, t: T, base: string): HTMLElement | null {
  if (!list?.length) return null;
  const box = h('div', { class: 'od-atts' });
  for (const a of list) {
    const href = fileUrl(a.url, base);
    const name = a.file_name || describe(a, t);
    if (href && a.kind === 'image') {
      box.append(h('a', { class: 'od-img', href, target: '_blank', rel: 'noopener noreferrer', 'data-omnidesk-attachment': 'image' }, h('img', { src: href, alt: name, loading: 'lazy' })));
    } else if (href && a.kind !== 'location' && a.kind !== 'contact' && a.kind !== 'poll' && a.kind !== 'dice') {
      box.append(h('a', { class: 'od-file', href, download: a.file_name || '', 'data-omnidesk-attachment': a.kind }, icon(CLIP_ICON), h('span', {}, name), h('small', {}, size(a.size_bytes))));
    } else {
      box.append(h('div', { class: 'od-file', 'data-omnidesk-attachment': a.kind }, describe(a, t)));
    }
  }
  return box;
}

/** A rating question's buttons are `csat:1`..`csat:5`. */
const CSAT = /^csat:([1-5])$/;

/**
 * A message's buttons: a rating question's as five stars ("Rate N of 5"; arrow keys move
 * between them), anything else as a row of chips. Once one was pressed (`chosen`) they are
 * disabled and that one shows as selected (the stars up to it filled).
 */
export function renderButtons(m: WebMessage, chosen: string | undefined, t: T, choose?: (id: string, b: WebButton) => void): HTMLElement | null {
  const list = m.buttons?.filter((b) => b && typeof b.text === 'string' && typeof b.data === 'string');
  if (!list?.length) return null;
  const stars = list.every((b) => CSAT.test(b.data));
  const picked = stars && chosen ? Number(CSAT.exec(chosen)?.[1] ?? 0) : 0;
  const box = h('div', {
    class: stars ? 'od-btns od-stars' : 'od-btns',
    role: 'group',
    'aria-label': stars ? t('rate') : undefined,
    'data-omnidesk-buttons': chosen === undefined ? '' : 'chosen',
  });
  for (const b of list) {
    const n = stars ? Number(CSAT.exec(b.data)![1]) : 0;
    box.append(
      h(
        'button',
        {
          type: 'button',
          class: stars ? (n <= picked ? 'od-star od-on' : 'od-star') : 'od-choice',
          'data-omnidesk-choice': b.data,
          'aria-label': stars ? t('rateN', { n }) : undefined,
          title: stars ? t('rateN', { n }) : undefined,
          'aria-pressed': chosen === undefined ? undefined : String(chosen === b.data),
          disabled: chosen !== undefined,
          onclick: () => choose?.(m.id, b),
        },
        stars ? '\u2605' : b.text,
      ),
    );
  }
  if (stars) {
    box.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
      if (!step) return;
      const all = Array.from(box.querySelectorAll('button'));
      const rtl = !!box.closest('[dir=rtl]') && (e.key === 'ArrowRight' || e.key === 'ArrowLeft');
      const i = all.indexOf(e.target as HTMLButtonElement) + (rtl ? -step : step);
      if (all[i]) {
        e.preventDefault();
        all[i].focus();
      }
    });
  }
  return box;
}

function clock(ms: number, lang: Lang): string {
  try {
    return new Date(ms).toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' });
  } catch {
    return '';
  }
}

const keyOf = (it: Item): string =>
  it.kind === 'pending' ? `c:${it.pending.client_id}` : it.message.client_id ? `c:${it.message.client_id}` : `i:${it.message.id}`;

/** One rendered message (a stored one or one still in the outbox). */
export function renderItem(
  it: Item,
  t: T,
  lang: Lang,
  actions: { retry(id: string): void; discard(id: string): void; choose?(id: string, b: WebButton): void },
  base = '',
): HTMLElement {
  if (it.kind === 'message' && it.message.author?.kind === 'system') {
    const m = it.message;
    return h('div', { class: 'od-note', role: 'note', 'data-omnidesk-message': m.id, 'data-direction': m.direction }, m.text);
  }
  const m: WebMessage | null = it.kind === 'message' ? it.message : null;
  const p: Pending | null = it.kind === 'pending' ? it.pending : null;
  const mine = m ? m.direction === 'inbound' : true;
  const status = p ? p.state : m!.delivery?.status ?? 'sent';
  const text = m ? m.text : p!.text;
  const kind = m?.author?.kind;
  const who = mine ? null : m!.author_name || t(kind === 'bot' || kind === 'ai' ? 'bot' : 'agent');

  const meta = h('div', { class: 'od-meta' }, h('time', {}, clock(m ? m.created_at : p!.created_at, lang)));
  if (m && m.channel === 'telegram') meta.append(h('span', {}, t('viaTelegram')));
  if (m && m.channel === 'email') meta.append(h('span', {}, t('viaEmail')));
  if (mine) {
    const label = status === 'failed' ? t('failed') : status === 'queued' ? t('queued') : status === 'sending' && p ? t('sending') : t('sent');
    const glyph = status === 'failed' ? '!' : p ? '◷' : '✓';
    meta.append(h('span', { class: 'od-tick', role: 'img', 'aria-label': label, title: label }, glyph));
    if (p && p.state === 'failed') {
      meta.append(
        h('button', { type: 'button', class: 'od-link', 'data-omnidesk-retry': '', onclick: () => actions.retry(p.client_id) }, t('retry')),
        h('button', { type: 'button', class: 'od-link', onclick: () => actions.discard(p.client_id) }, t('discard')),
      );
    }
  }
  return h(
    'div',
    {
      class: mine ? 'od-m od-mine' : 'od-m',
      'data-omnidesk-message': m ? m.id : '',
      'data-direction': m ? m.direction : 'inbound',
      'data-status': status,
      'data-client-id': (m ? m.client_id : p!.client_id) ?? undefined,
    },
    who
      ? h(
          'div',
          { class: 'od-who' },
          who,
          // An AI's answer says so: the customer knows it is automated.
          kind === 'ai' ? h('span', { class: 'od-ai', 'data-omnidesk-ai': '', title: t('aiTitle') }, t('ai')) : null,
        )
      : null,
    text ? h('div', { class: 'od-bubble', dir: 'auto' }, text) : null,
    m ? renderAttachments(m.attachments, t, base) : p!.files?.length ? renderAttachments(p!.files.map((f) => ({ kind: 'file', file_name: f.name, size_bytes: f.size })), t, base) : null,
    m && it.kind === 'message' ? renderButtons(m, it.chosen, t, actions.choose) : null,
    meta,
  );
}

const signature = (it: Item): string =>
  it.kind === 'pending'
    ? `p|${it.pending.state}`
    : `m|${it.message.id}|${it.message.delivery?.status}|${it.message.text}|${it.message.author_name}|${it.message.author?.kind}|${JSON.stringify(it.message.attachments ?? [])}|${JSON.stringify(it.message.buttons ?? [])}|${it.chosen ?? ''}`;

export function mountPanel(ctx: LoaderContext, c: Controller, t: T): PanelHandle {
  const { shadow, root, launcher, lang } = ctx;
  // Before the loader's sheet: on a tie the loader's rules (the launcher's) win.
  addCss(shadow, PANEL_CSS, true);

  // ---- skeleton ----
  const title = h('h2', { class: 'od-title', id: 'od-title' }, t('title'));
  const status = h('div', { class: 'od-status', 'aria-live': 'polite' });
  const closeBtn = h('button', { type: 'button', class: 'od-x', 'aria-label': t('close'), title: t('close'), onclick: () => handle.close() }, '×');
  const bannerText = h('span');
  const bannerRetry = h('button', { type: 'button', class: 'od-btn', onclick: () => void c.start() }, t('tryAgain'));
  const banner = h('div', { class: 'od-banner', role: 'status', hidden: true }, bannerText, bannerRetry);
  const older = h('div', { class: 'od-older', hidden: true }, t('loadingOlder'));
  const empty = h('div', { class: 'od-empty', hidden: true }, t('empty'));
  const list = h('div', { class: 'od-list' });
  const body = h('div', { class: 'od-body', tabindex: '0', role: 'log', 'aria-live': 'off', 'aria-label': t('messages') }, older, empty, list);

  const nameIn = h('input', { type: 'text', name: 'name', autocomplete: 'name', maxlength: '100' });
  const emailIn = h('input', { type: 'email', name: 'email', autocomplete: 'email', maxlength: '254' });
  const prechatErr = h('p', { class: 'od-err', role: 'alert', hidden: true });
  const prechat = h(
    'form',
    { class: 'od-prechat', hidden: true, 'data-omnidesk-prechat': '', novalidate: true },
    h('h3', {}, t('prechatTitle')),
    h('p', {}, t('prechatIntro')),
    h('label', {}, t('name'), nameIn),
    h('label', {}, t('email'), emailIn),
    prechatErr,
    h(
      'div',
      { class: 'od-row' },
      h('button', { type: 'button', class: 'od-btn', onclick: () => c.skipPrechat() }, t('skip')),
      h('button', { type: 'submit', class: 'od-btn od-primary' }, t('start')),
    ),
  );
  prechat.addEventListener('submit', (e) => {
    e.preventDefault();
    const email = emailIn.value.trim();
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      prechatErr.textContent = t('badEmail');
      prechatErr.hidden = false;
      return;
    }
    void c.identify(nameIn.value, email).then((ok) => {
      prechatErr.hidden = ok;
      if (!ok) prechatErr.textContent = t('unavailable');
      else composer.focus();
    });
  });

  const tg = h('div', { class: 'od-tg', hidden: true });

  const composer = h('textarea', {
    'data-omnidesk-composer': '',
    rows: '1',
    maxlength: '4096',
    'aria-label': t('composer'),
    placeholder: t('placeholder'),
    dir: 'auto',
  });
  const composeErr = h('p', { class: 'od-err', role: 'alert', hidden: true });
  const showErr = (msg: string | null): void => {
    composeErr.hidden = !msg;
    composeErr.textContent = msg ?? '';
  };
  const attach = (files: File[]): void => {
    if (files.length) showErr(c.attach(files) === 'ok' ? null : t('tooMany', { n: MAX_FILES }));
  };
  const fileIn = h('input', { type: 'file', multiple: true, hidden: true, 'data-omnidesk-file-input': '', tabindex: '-1' });
  fileIn.addEventListener('change', () => {
    attach(Array.from(fileIn.files ?? []));
    fileIn.value = '';
  });
  const chips = h('div', { class: 'od-chips', hidden: true, 'data-omnidesk-uploads': '' });
  const form = h(
    'form',
    { class: 'od-compose' },
    h('button', { type: 'button', class: 'od-clip', 'aria-label': t('attach'), title: t('attach'), 'data-omnidesk-attach': '', onclick: () => fileIn.click() }, icon(CLIP_ICON)),
    fileIn,
    composer,
    h('button', { type: 'submit', class: 'od-send', 'aria-label': t('send'), title: t('send') }, icon(SEND_ICON)),
  );
  const submit = (): void => {
    const r = c.send(composer.value);
    showErr(r === 'too_long' ? t('tooLong') : r === 'uploading' ? t('waitUpload') : null);
    if (r === 'ok') {
      composer.value = '';
      autosize();
      stick = true;
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
    composer.focus();
  });
  composer.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  const autosize = (): void => {
    composer.style.height = 'auto';
    composer.style.height = `${Math.min(composer.scrollHeight + 2, 120)}px`;
  };
  composer.addEventListener('input', autosize);
  composer.addEventListener('paste', (e) => {
    const files = Array.from(e.clipboardData?.files ?? []);
    // Text from an office app often brings a picture of itself too: text wins.
    if (!files.length || Array.from(e.clipboardData?.types ?? []).includes('text/plain')) return;
    e.preventDefault();
    attach(files);
  });

  const sr = h('div', { class: 'od-sr', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const panel = h(
    'div',
    { class: 'od-panel', id: 'od-panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'od-title', hidden: true, 'data-omnidesk-panel': '' },
    h('header', { class: 'od-head' }, h('div', {}, title, status), closeBtn),
    banner,
    body,
    prechat,
    tg,
    chips,
    composeErr,
    form,
    sr,
  );
  root.appendChild(panel);
  launcher.setAttribute('aria-controls', 'od-panel');

  // ---- files dropped on the panel ----
  const dragging = (e: DragEvent): boolean => !form.hidden && Array.from(e.dataTransfer?.types ?? []).includes('Files');
  panel.addEventListener('dragover', (e) => {
    if (!dragging(e)) return;
    e.preventDefault();
    panel.setAttribute('data-drop', '');
  });
  panel.addEventListener('dragleave', (e) => {
    if (!panel.contains(e.relatedTarget as Node | null)) panel.removeAttribute('data-drop');
  });
  panel.addEventListener('drop', (e) => {
    panel.removeAttribute('data-drop');
    if (!dragging(e)) return;
    e.preventDefault();
    attach(Array.from(e.dataTransfer?.files ?? []));
  });

  // ---- keyboard: focus trap, Esc ----
  const focusables = (): HTMLElement[] =>
    Array.from(panel.querySelectorAll<HTMLElement>('button,a[href],input,textarea,[tabindex]:not([tabindex="-1"])')).filter(
      (el) => !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0,
    );
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      handle.close();
      return;
    }
    if (e.key !== 'Tab') return;
    const f = focusables();
    if (f.length === 0) return;
    const active = shadow.activeElement as HTMLElement | null;
    const i = active ? f.indexOf(active) : -1;
    if (e.shiftKey && (i <= 0)) {
      e.preventDefault();
      f[f.length - 1].focus();
    } else if (!e.shiftKey && (i === -1 || i === f.length - 1)) {
      e.preventDefault();
      f[0].focus();
    }
  });

  // ---- history paging on scroll-up ----
  let stick = true;
  body.addEventListener('scroll', () => {
    stick = body.scrollHeight - body.scrollTop - body.clientHeight < 40;
    if (body.scrollTop < 60) void c.loadOlder();
  });

  // ---- render ----
  const els = new Map<string, { el: HTMLElement; sig: string }>();
  const actions = {
    retry: (id: string) => c.retry(id),
    discard: (id: string) => c.discard(id),
    // The pressed buttons are replaced by spent ones: the composer takes the focus.
    choose: (id: string, b: WebButton) => {
      if (c.choose(id, b)) {
        stick = true;
        composer.focus();
      }
    },
  };
  let lastSeq = 0;
  let tgSig = '';

  const renderList = (s: ViewState): void => {
    const items = timeline(s.messages, s.pending);
    const prevHeight = body.scrollHeight;
    const prevTop = body.scrollTop;
    const firstBefore = list.firstElementChild;
    const keep = new Set<string>();
    items.forEach((it, i) => {
      const key = keyOf(it);
      keep.add(key);
      const sig = signature(it);
      let entry = els.get(key);
      if (!entry || entry.sig !== sig) {
        const el = renderItem(it, t, lang, actions, ctx.api);
        if (entry) entry.el.replaceWith(el);
        entry = { el, sig };
        els.set(key, entry);
      }
      const at = list.children[i];
      if (at !== entry.el) list.insertBefore(entry.el, at ?? null);
    });
    for (const [key, { el }] of els)
      if (!keep.has(key)) {
        el.remove();
        els.delete(key);
      }
    empty.hidden = items.length > 0 || s.phase !== 'ready';
    older.hidden = !s.loadingOlder;
    if (stick) body.scrollTop = body.scrollHeight;
    else if (firstBefore && list.firstElementChild !== firstBefore) body.scrollTop = prevTop + (body.scrollHeight - prevHeight);
  };

  let chipSig = '';
  const renderUploads = (ups: readonly Upload[]): void => {
    const sig = JSON.stringify(ups);
    if (sig === chipSig) return;
    chipSig = sig;
    chips.hidden = ups.length === 0;
    chips.replaceChildren(
      ...ups.map((u) =>
        h(
          'span',
          { class: 'od-chip', 'data-omnidesk-upload': u.state, title: u.name },
          h('span', { class: 'od-chip-name' }, u.name),
          h('small', {}, u.state === 'uploading' ? t('uploading') : u.error ? t(u.error, { n: MAX_FILE_MB }) : size(u.size)),
          h('button', { type: 'button', class: 'od-x', 'aria-label': t('remove', { name: u.name }), onclick: () => c.removeUpload(u.key) }, '\u00d7'),
        ),
      ),
    );
  };

  const renderTelegram = (s: ViewState): void => {
    const on = s.phase === 'ready' && !s.prechat && (!!s.session?.telegram || !!s.website?.telegram);
    const sig = on ? JSON.stringify([s.session?.telegram, s.telegram, s.website?.telegram]) : '';
    tg.hidden = !on;
    if (sig === tgSig) return;
    tgSig = sig;
    tg.replaceChildren();
    if (!on) return;
    if (s.session?.telegram) {
      tg.append(
        h('span', { 'data-omnidesk-telegram-status': '' }, t('continuedAs', { name: s.session.telegram.name })),
        h('button', { type: 'button', class: 'od-link', 'data-omnidesk-telegram-undo': '', onclick: () => void c.undoTelegram() }, t('undo')),
      );
      return;
    }
    const link = s.telegram.link;
    if (link) {
      tg.append(
        h('a', { class: 'od-btn od-primary', href: link.url, target: '_blank', rel: 'noopener noreferrer', 'data-omnidesk-telegram-link': '' }, t('telegramOpen')),
      );
      const svg = qrSvg(link.url, t('telegramScan'));
      if (svg) tg.append(h('div', { class: 'od-qr', 'data-omnidesk-qr': '' }, svg, h('span', {}, t('telegramScan'))));
      return;
    }
    tg.append(
      h(
        'button',
        { type: 'button', class: 'od-btn', 'data-omnidesk-telegram': '', disabled: s.telegram.busy, onclick: () => void c.continueOnTelegram() },
        t('telegram'),
      ),
    );
    if (s.telegram.error) tg.append(h('p', { class: 'od-err', role: 'alert' }, t('telegramError')));
  };

  const render = (): void => {
    const s = c.state;
    panel.setAttribute('data-omnidesk-state', s.phase);
    const name = s.website?.name || t('title');
    title.textContent = name;
    panel.setAttribute('aria-label', t('dialog', { name }));
    const link = s.phase === 'ready' ? s.link : s.phase === 'starting' ? 'connecting' : 'offline';
    status.setAttribute('data-link', link);
    status.textContent = s.phase === 'refused' ? t('refused') : t(link === 'open' ? 'online' : link);
    banner.hidden = s.phase !== 'unavailable' && s.phase !== 'refused';
    bannerText.textContent = s.phase === 'refused' ? t('refused') : t('unavailable');
    bannerRetry.hidden = s.phase !== 'unavailable';
    prechat.hidden = !s.prechat;
    form.hidden = s.prechat || s.phase === 'refused';
    composer.disabled = s.phase === 'refused';
    renderList(s);
    renderUploads(s.uploads);
    renderTelegram(s);
    ctx.setBadge(s.unread);
    if (s.announce.seq !== lastSeq) {
      lastSeq = s.announce.seq;
      sr.textContent = t('newMessage', { name: s.announce.name || t('agent'), text: s.announce.text });
    }
  };
  c.subscribe(render);
  render();

  let isOpen = false;
  const handle: PanelHandle = {
    open() {
      if (isOpen) return;
      isOpen = true;
      panel.hidden = false;
      root.setAttribute('data-open', '');
      launcher.setAttribute('aria-expanded', 'true');
      c.open();
      stick = true;
      body.scrollTop = body.scrollHeight;
      (c.state.prechat ? nameIn : composer).focus();
    },
    close() {
      if (!isOpen) return;
      isOpen = false;
      panel.hidden = true;
      root.removeAttribute('data-open');
      launcher.setAttribute('aria-expanded', 'false');
      c.close();
      launcher.focus();
    },
    isOpen: () => isOpen,
  };
  return handle;
}
