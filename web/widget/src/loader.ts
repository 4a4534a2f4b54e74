// widget.js — the loader. One tag embeds it:
//   <script src="<base>/widget.js" data-website="<id>" async></script>
// It draws the launcher bubble in an open shadow root and makes no network request until the
// visitor opens the panel; then it injects <base>/widget/panel.js, which registers a factory on
// a private global. A returning visitor with a stored conversation gets the panel loaded in
// the background so the unread badge stays live.

import {
  LAUNCHER,
  PANEL_GLOBAL,
  addCss,
  isRtl,
  pickLang,
  readState,
  safeStorage,
  siteUser,
  tokenKey,
  type LoaderContext,
  type PanelFactory,
  type PanelHandle,
} from './common';

// The host page's own rules on the host element (`* {letter-spacing: 2px}`) beat `:host` and
// are inherited: the root sets every inherited text property itself.
const CSS =
  ':host{all:initial}' +
  '.od{position:fixed;z-index:2147483000;bottom:20px;inset-inline-end:20px;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#111;direction:ltr;letter-spacing:normal;word-spacing:normal;text-transform:none;text-indent:0;text-align:start;text-shadow:none}' +
  '.od[dir=rtl]{direction:rtl}' +
  '.od-launcher{all:unset;box-sizing:border-box;width:56px;height:56px;border-radius:50%;background:#2563eb;color:#fff;cursor:pointer;box-shadow:0 4px 16px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;position:relative}' +
  '.od-launcher:hover{background:#1d4ed8}' +
  '.od-launcher:focus-visible{outline:3px solid #93c5fd;outline-offset:3px}' +
  '.od-launcher[data-state=error]{background:#6b7280}' +
  '.od-launcher svg{width:28px;height:28px;fill:currentColor}' +
  '.od-badge{position:absolute;top:-4px;inset-inline-end:-4px;min-width:20px;height:20px;border-radius:10px;background:#dc2626;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center;padding:0 5px;box-sizing:border-box}' +
  '[hidden]{display:none!important}' +
  '@media (max-width:480px){.od[data-open] .od-launcher{display:none}}';

const ICON = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z';

type Win = Window & { [PANEL_GLOBAL]?: PanelFactory; __omnideskLoaded?: Record<string, true> };

function boot(script: HTMLScriptElement): void {
  const w = window as Win;
  const websiteId = script.getAttribute('data-website');
  if (!websiteId) return;
  const loaded = (w.__omnideskLoaded ??= {});
  if (loaded[websiteId]) return; // the tag was pasted twice
  loaded[websiteId] = true;

  // <base> is the script's own URL without the trailing /widget.js.
  const base = script.src.replace(/\/widget\.js(\?.*)?(#.*)?$/, '');
  const lang = pickLang(script.getAttribute('data-lang'), navigator.languages ?? [navigator.language]);
  const [openLabel, unavailableLabel] = LAUNCHER[lang];
  const storage = safeStorage();

  const host = document.createElement('div');
  host.setAttribute('data-omnidesk-host', websiteId);
  const shadow = host.attachShadow({ mode: 'open' });
  addCss(shadow, CSS);
  const root = document.createElement('div');
  root.className = 'od';
  root.dir = isRtl(lang) ? 'rtl' : 'ltr';
  root.lang = lang;
  const launcher = document.createElement('button');
  launcher.type = 'button';
  launcher.className = 'od-launcher';
  launcher.setAttribute('data-omnidesk-launcher', '');
  launcher.setAttribute('aria-haspopup', 'dialog');
  launcher.setAttribute('aria-expanded', 'false');
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(svgNs, 'path');
  path.setAttribute('d', ICON);
  svg.appendChild(path);
  const badge = document.createElement('span');
  badge.className = 'od-badge';
  badge.setAttribute('aria-hidden', 'true');
  launcher.append(svg, badge);
  root.appendChild(launcher);
  shadow.append(root);

  const setBadge = (n: number): void => {
    badge.hidden = !(n > 0);
    badge.textContent = n > 99 ? '99+' : String(n);
    launcher.setAttribute('aria-label', n > 0 ? `${openLabel} (${n})` : openLabel);
  };
  const stored = readState(storage, websiteId);
  setBadge(stored.unread ?? 0);

  let handle: PanelHandle | null = null;
  let loading: Promise<PanelHandle> | null = null;
  const load = (background: boolean): Promise<PanelHandle> => {
    if (handle) return Promise.resolve(handle);
    if (loading) return loading;
    loading = new Promise<PanelFactory>((resolve, reject) => {
      if (w[PANEL_GLOBAL]) return resolve(w[PANEL_GLOBAL]);
      const s = document.createElement('script');
      s.src = `${base}/widget/panel.js`;
      s.async = true;
      s.onload = () => (w[PANEL_GLOBAL] ? resolve(w[PANEL_GLOBAL]) : reject(new Error('panel did not register')));
      s.onerror = () => reject(new Error('panel failed to load'));
      document.head.appendChild(s);
    }).then(
      (factory) => {
        // On AWS the API and the WebSocket are separate hosts from the static files.
        const api = (script.getAttribute('data-api') || base).replace(/\/+$/, '');
        const ws = script.getAttribute('data-ws') || `${base.replace(/^http/, 'ws')}/ws`;
        const ctx: LoaderContext = { base, api, ws, websiteId, lang, shadow, root, launcher, setBadge, background, user: siteUser(script) };
        handle = factory(ctx);
        return handle;
      },
      (e: unknown) => {
        loading = null; // a later click tries again
        launcher.setAttribute('data-state', 'error');
        launcher.setAttribute('aria-label', unavailableLabel);
        throw e;
      },
    );
    return loading;
  };

  launcher.addEventListener('click', () => {
    if (handle) return handle.isOpen() ? handle.close() : handle.open();
    launcher.setAttribute('aria-busy', 'true');
    load(false).then(
      (h) => {
        launcher.removeAttribute('aria-busy');
        launcher.removeAttribute('data-state');
        h.open();
      },
      () => launcher.removeAttribute('aria-busy'),
    );
  });

  (document.body ?? document.documentElement).appendChild(host);

  // A returning visitor with a conversation: keep the badge live.
  if (storage?.getItem(tokenKey(websiteId)) && stored.conv) load(true).catch(() => {});
}

function start(): void {
  const current = document.currentScript as HTMLScriptElement | null;
  const scripts: HTMLScriptElement[] =
    current && current.hasAttribute('data-website')
      ? [current]
      : Array.from(document.querySelectorAll<HTMLScriptElement>('script[data-website][src*="widget.js"]'));
  const go = () => scripts.forEach((s) => boot(s));
  if (document.body) go();
  else document.addEventListener('DOMContentLoaded', go, { once: true });
}

start();
