// Which text of a message the agent sees, and the other translation rules of the dashboard.
// No I/O and no view here, so every rule is unit-tested (test/translation.test.tsx). Languages
// are compared by their primary subtag, as the server does (`Agent::reads`): `zh-Hans` is `zh`.

import type { Agent, Message, Translation, TranslationPreview, TranslationSetup } from './types';

/** The languages offered when picking one, besides the agent's own and the customer's. */
export const COMMON_LANGUAGES = ['en', 'es', 'pt', 'de', 'fr', 'ru', 'uk', 'zh', 'ja', 'ko', 'ar', 'tr'] as const;

/** `zh-Hans` → `zh`, `PT_br` → `pt`. */
export function primary(tag: string): string {
  return tag.trim().split(/[-_]/)[0].toLowerCase();
}

export function sameLanguage(a: string, b: string): boolean {
  return primary(a) === primary(b);
}

type Reader = Pick<Agent, 'language' | 'languages'>;

/** The agent's own language: as set, else the first they read, else English. */
export function ownLanguage(agent: Reader): string {
  return agent.language || agent.languages?.[0] || 'en';
}

/** Every language the agent reads, their own first, one per primary subtag. */
export function readLanguages(agent: Reader): string[] {
  return uniqueLanguages([ownLanguage(agent), ...(agent.languages ?? [])]);
}

export function readsLanguage(agent: Reader, tag: string): boolean {
  return readLanguages(agent).some((l) => sameLanguage(l, tag));
}

/** The first of each primary subtag, in order (`['zh-Hans', 'zh', 'en']` → `['zh-Hans', 'en']`). */
export function uniqueLanguages(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const tag of tags) {
    const p = tag ? primary(tag) : '';
    if (!p || seen.has(p)) continue;
    seen.add(p);
    out.push(tag);
  }
  return out;
}

/** The translation into `tag`: the exact tag, else the same primary subtag. */
export function translationInto(m: Pick<Message, 'translations'>, tag: string): Translation | null {
  const list = m.translations ?? [];
  return list.find((x) => x.language === tag) ?? list.find((x) => sameLanguage(x.language, tag)) ?? null;
}

/** The translation the agent should read: into their own language first, then the others they read. */
export function translationFor(m: Pick<Message, 'translations'>, agent: Reader): Translation | null {
  for (const tag of readLanguages(agent)) {
    const found = translationInto(m, tag);
    if (found) return found;
  }
  return null;
}

/** A marker under a text whose translation is on its way or failed. */
export type TranslationMarker = { kind: 'pending' } | { kind: 'failed'; reason: string; retrying: boolean };

/**
 * What an inbound message shows: the translation, when the agent does not read the message's
 * language and a translation into one they read exists (a message of unknown language counts
 * as not read); otherwise the original, with a marker while a translation is pending or failed.
 */
export type InboundDisplay = { show: 'translation'; translation: Translation; from: string | null } | { show: 'original'; marker: TranslationMarker | null };

export function inboundDisplay(m: Pick<Message, 'language' | 'translations' | 'translation'>, agent: Reader): InboundDisplay {
  if (m.language && readsLanguage(agent, m.language)) return { show: 'original', marker: null };
  const translation = translationFor(m, agent);
  if (translation) return { show: 'translation', translation, from: m.language ?? null };
  return { show: 'original', marker: markerOf(m.translation) };
}

function markerOf(tr: Message['translation']): TranslationMarker | null {
  if (tr?.state === 'pending') return { kind: 'pending' };
  if (tr?.state === 'failed') return { kind: 'failed', reason: tr.reason ?? '', retrying: tr.retrying === true };
  return null;
}

/**
 * What an outbound reply shows under the agent's text:
 * - `sent`: it was translated and the customer received `translation` (in `language`);
 * - `pending`: it is held while it is translated;
 * - `failed`: the translation failed; held, and `decide` when the agent must choose
 *   (send the original or retry) because the server is not retrying;
 * - `original`: the agent chose to send it untranslated;
 * - `none`: nothing to say (no translation needed, or none configured).
 */
export type OutboundDisplay =
  | { show: 'sent'; language: string; translation: Translation }
  | { show: 'pending'; language: string | null }
  | { show: 'failed'; language: string | null; reason: string; retrying: boolean }
  | { show: 'original' }
  | { show: 'none' };

export function outboundDisplay(m: Pick<Message, 'translations' | 'translation'>): OutboundDisplay {
  const tr = m.translation;
  switch (tr?.state) {
    case 'done': {
      const translation = tr.target ? translationInto(m, tr.target) : null;
      return translation && tr.target ? { show: 'sent', language: tr.target, translation } : { show: 'none' };
    }
    case 'pending':
      return { show: 'pending', language: tr.target ?? null };
    case 'failed':
      return { show: 'failed', language: tr.target ?? null, reason: tr.reason ?? '', retrying: tr.retrying === true };
    case 'sent_original':
      return { show: 'original' };
    default:
      return { show: 'none' };
  }
}

/** Whether an outbound reply is held back from the customer (`TranslationStatus::holds_reply`). */
export function isHeld(m: Pick<Message, 'direction' | 'translation'>): boolean {
  return m.direction === 'outbound' && (m.translation?.state === 'pending' || m.translation?.state === 'failed');
}

/** Whether the composer should preview the translation: translation on, and a customer language the agent does not read. */
export function wantsPreview(setup: TranslationSetup | null, customerLanguage: string | null | undefined, agent: Reader): boolean {
  return !!setup?.enabled && !!customerLanguage && !readsLanguage(agent, customerLanguage);
}

/** The languages offered for a conversation: its current one, the agent's, and the common list, one per primary subtag. */
export function languageOptions(agent: Reader, current: string | null | undefined): string[] {
  return uniqueLanguages([...(current ? [current] : []), ...readLanguages(agent), ...COMMON_LANGUAGES]);
}

/** The body of `PUT /api/v1/agents/me/languages` for a choice: the other languages read, without the own one. */
export function languagesPayload(language: string, reads: readonly string[]): { language: string; reads: string[] } {
  return { language, reads: uniqueLanguages(reads.filter((l) => !sameLanguage(l, language))) };
}

/** The providers whose daily quota is used up. */
export function reachedQuotas(setup: TranslationSetup | null): string[] {
  return (setup?.quota ?? []).filter((q) => q.reached).map((q) => q.provider);
}

/** `GET /api/v1/translation`, read defensively: anything unexpected means "nothing known". */
export function parseTranslationSetup(v: unknown): TranslationSetup | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.enabled !== 'boolean') return null;
  const providers = Array.isArray(o.providers) ? o.providers.filter((p): p is string => typeof p === 'string') : [];
  const quota = (Array.isArray(o.quota) ? o.quota : []).flatMap((q) => {
    if (!q || typeof q !== 'object') return [];
    const r = q as Record<string, unknown>;
    if (typeof r.provider !== 'string') return [];
    return [{
      provider: r.provider,
      used_today: typeof r.used_today === 'number' ? r.used_today : 0,
      limit: typeof r.limit === 'number' ? r.limit : null,
      reached: r.reached === true,
    }];
  });
  return { enabled: o.enabled, providers, quota };
}

/** A preview answer the composer can show: the text, the provider's error, or nothing. */
export type PreviewShown = { language: string; text: string; provider: string } | { language: string; error: string } | null;

export function previewShown(p: TranslationPreview | null | undefined): PreviewShown {
  if (!p || !p.needed) return null;
  if ('text' in p && typeof p.text === 'string') return { language: p.language, text: p.text, provider: p.provider };
  if ('error' in p && typeof p.error === 'string') return { language: p.language, error: p.error };
  return null;
}

const PROVIDER_NAMES: Record<string, string> = { deepl: 'DeepL', google: 'Google', openai: 'OpenAI', azure: 'Azure', libretranslate: 'LibreTranslate' };

/** A provider's brand name ("DeepL"); an unknown one as the server names it. */
export function providerName(id: string): string {
  return PROVIDER_NAMES[id.toLowerCase()] ?? id;
}

const namers = new Map<string, Intl.DisplayNames | null>();

/** A language's name in the UI locale ("Russian", "俄语"); the tag itself when the browser has no name for it. */
export function languageName(locale: string, tag: string): string {
  let namer = namers.get(locale);
  if (namer === undefined) {
    try {
      namer = new Intl.DisplayNames([locale], { type: 'language', fallback: 'code' });
    } catch {
      namer = null;
    }
    namers.set(locale, namer);
  }
  try {
    return namer?.of(tag) ?? tag;
  } catch {
    return tag; // not a well-formed tag
  }
}
