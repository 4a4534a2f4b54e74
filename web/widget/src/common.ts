// What the loader (widget.js) and the panel (widget/panel.js) share. Keep it tiny: everything
// here is in the loader's 6 KB budget.

export const LANGS = ['en', 'zh', 'ru', 'es', 'ar'] as const;
export type Lang = (typeof LANGS)[number];

/** `data-lang` wins, then the browser's languages; anything else is English. */
export function pickLang(attr: string | null | undefined, browser: readonly string[] = []): Lang {
  for (const tag of [attr ?? '', ...browser]) {
    const l = tag.toLowerCase().split(/[-_]/)[0];
    if ((LANGS as readonly string[]).includes(l)) return l as Lang;
  }
  return 'en';
}

export const isRtl = (lang: Lang): boolean => lang === 'ar';

/** The launcher's own labels (the panel brings all other strings). [open, unavailable] */
export const LAUNCHER: Record<Lang, [string, string]> = {
  en: ['Open chat', 'Chat unavailable'],
  zh: ['打开聊天', '聊天暂不可用'],
  ru: ['Открыть чат', 'Чат недоступен'],
  es: ['Abrir chat', 'Chat no disponible'],
  ar: ['فتح الدردشة', 'الدردشة غير متاحة'],
};

/** localStorage keys. The visitor token itself is stored under `omnidesk:<website id>`. */
export const tokenKey = (website: string): string => `omnidesk:${website}`;
export const stateKey = (website: string): string => `omnidesk:${website}:state`;
export const outboxKey = (website: string): string => `omnidesk:${website}:outbox`;

/** What the panel persists for the loader and for the next page load. */
export interface StoredState {
  /** The visitor has a conversation: the loader may load the panel in the background. */
  conv?: string | null;
  /** created_at (ms) of the newest agent/bot message the visitor has seen. */
  seen?: number;
  /** Unread count when the page was left, shown by the loader at once. */
  unread?: number;
  /** The pre-chat form was answered or skipped. */
  prechat?: boolean;
}

export function readState(storage: Storage | null, website: string): StoredState {
  try {
    const raw = storage?.getItem(stateKey(website));
    const v: unknown = raw ? JSON.parse(raw) : {};
    return v && typeof v === 'object' ? (v as StoredState) : {};
  } catch {
    return {};
  }
}

/** localStorage, or null where it is blocked (sandboxed iframes, some privacy modes). */
export function safeStorage(): Storage | null {
  try {
    const s = window.localStorage;
    const k = 'omnidesk:probe';
    s.setItem(k, '1');
    s.removeItem(k);
    return s;
  } catch {
    return null;
  }
}

/**
 * Adds CSS to the widget's shadow root as a constructable stylesheet (`adoptedStyleSheets`).
 * A host page whose CSP has no 'unsafe-inline' in style-src blocks every <style> element the
 * widget adds, and the launcher and panel would show unstyled; an adopted sheet is built by our
 * script (which the page allowed) and is not subject to style-src. A <style> element only
 * where adopted sheets are missing (Safari before 16.4). `first`: before the sheets already
 * there, which then win a tie.
 */
export function addCss(shadow: ShadowRoot, css: string, first = false): void {
  if ('adoptedStyleSheets' in shadow && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      // Assigned, not pushed: older engines give a frozen array.
      shadow.adoptedStyleSheets = first ? [sheet, ...shadow.adoptedStyleSheets] : [...shadow.adoptedStyleSheets, sheet];
      return;
    } catch {
      /* a CSSStyleSheet that cannot be constructed: the <style> below */
    }
  }
  const style = document.createElement('style');
  style.textContent = css;
  shadow.insertBefore(style, first ? shadow.firstChild : null);
}

/** What the loader hands the panel. */
export interface LoaderContext {
  /** Where widget.js and panel.js come from. */
  base: string;
  /** The widget API's origin (`data-api`, default `base`): `<api>/web/v1/…`. */
  api: string;
  /** The visitor WebSocket URL (`data-ws`, default `<base as ws>/ws`); `?ticket=` is added. */
  ws: string;
  websiteId: string;
  lang: Lang;
  /** The open shadow root; the panel adds its stylesheet (`addCss`) and its dialog here. */
  shadow: ShadowRoot;
  /** The `.od` root element (carries `dir` and `data-open`). */
  root: HTMLElement;
  launcher: HTMLButtonElement;
  setBadge(n: number): void;
  /** true when loaded in the background for a returning visitor (panel stays closed). */
  background: boolean;
  /** A signed-in user of the site (`data-user-id` + `data-user-hash`, or `data-user-jwt`). */
  user: SiteUser | null;
}

/** A site's proof of its signed-in user, passed to `POST /web/v1/identify`. */
export type SiteUser = { user_id: string; user_hash: string } | { user_jwt: string };

/** The signed-in user the tag names, if it names one completely. */
export function siteUser(script: Element): SiteUser | null {
  const id = script.getAttribute('data-user-id');
  const hash = script.getAttribute('data-user-hash');
  const jwt = script.getAttribute('data-user-jwt');
  if (jwt) return { user_jwt: jwt };
  if (id && hash) return { user_id: id, user_hash: hash };
  return null;
}

export interface PanelHandle {
  open(): void;
  close(): void;
  isOpen(): boolean;
}

export type PanelFactory = (ctx: LoaderContext) => PanelHandle;

/** The private global the panel script registers its factory on. */
export const PANEL_GLOBAL = '__omnideskPanel';
