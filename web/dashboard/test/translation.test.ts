import { describe, expect, it } from 'vitest';
import {
  inboundDisplay, isHeld, languageName, languageOptions, languagesPayload, outboundDisplay, ownLanguage, parseTranslationSetup, primary,
  readsLanguage, sameLanguage, translationFor, wantsPreview,
} from '../src/translation';
import type { Agent, Message, TranslationSetup } from '../src/types';
import { msg } from './fixtures';

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

describe('languages are compared by primary subtag', () => {
  it('zh-Hans is zh, pt_BR is pt', () => {
    expect(primary('zh-Hans')).toBe('zh');
    expect(primary('PT_br')).toBe('pt');
    expect(sameLanguage('zh-Hans', 'zh')).toBe(true);
    expect(sameLanguage('zh-Hant', 'zh-Hans')).toBe(true);
    expect(sameLanguage('uk', 'ru')).toBe(false);
  });

  it("the agent's own language is as set, else the first they read, else English", () => {
    expect(ownLanguage({ language: 'de', languages: ['en', 'de'] })).toBe('de');
    expect(ownLanguage({ language: null, languages: ['fr', 'en'] })).toBe('fr');
    expect(ownLanguage({})).toBe('en');
    expect(readsLanguage({ language: 'zh-Hans', languages: [] }, 'zh')).toBe(true);
    expect(readsLanguage({ language: null, languages: ['es'] }, 'es-MX')).toBe(true);
    expect(readsLanguage({ language: 'en', languages: ['es'] }, 'ru')).toBe(false);
  });
});

describe('which text of a customer message the agent sees', () => {
  it('a language the agent does not read: the translation into theirs', () => {
    const d = inboundDisplay(ru(), EN);
    expect(d).toEqual({ show: 'translation', translation: { language: 'en', text: 'Where is my parcel?', provider: 'deepl' }, from: 'ru' });
  });

  it('a language the agent reads: the original, even when translations exist', () => {
    expect(inboundDisplay(ru(), { language: 'en', languages: ['en', 'ru'] })).toEqual({ show: 'original', marker: null });
    // by primary subtag: a reader of "zh" reads "zh-Hant"
    const zh = msg('m', 'cv', { language: 'zh-Hant', text: '包裹在哪裡？', translations: [{ language: 'en', text: 'Where is the parcel?', provider: 'google' }] });
    expect(inboundDisplay(zh, { language: 'en', languages: ['en', 'zh'] }).show).toBe('original');
  });

  it("the agent's own language is preferred over the others they read, whatever the order of translations", () => {
    const m = ru({
      translations: [
        { language: 'en', text: 'Where is my parcel?', provider: 'deepl' },
        { language: 'de', text: 'Wo ist mein Paket?', provider: 'deepl' },
      ],
    });
    expect(translationFor(m, { language: 'de', languages: ['en', 'de'] })?.language).toBe('de');
    expect(translationFor(m, { language: 'en', languages: ['de', 'en'] })?.language).toBe('en');
    // no own language set: the first of `languages` is the own one
    expect(translationFor(m, { language: null, languages: ['de', 'en'] })?.language).toBe('de');
  });

  it('a translation into a regional tag matches the agent language by primary subtag', () => {
    const m = msg('m', 'cv', { language: 'ru', translations: [{ language: 'fr', text: 'Bonjour', provider: 'deepl' }, { language: 'zh-Hans', text: '你好', provider: 'deepl' }] });
    const d = inboundDisplay(m, { language: 'zh', languages: ['zh'] });
    expect(d.show === 'translation' && d.translation.language).toBe('zh-Hans');
  });

  it('no translation into a language the agent reads: the original, with no marker', () => {
    const m = ru({ translations: [{ language: 'fr', text: 'Où est mon colis ?', provider: 'deepl' }] });
    expect(inboundDisplay(m, EN)).toEqual({ show: 'original', marker: null });
    expect(inboundDisplay(ru({ translations: [], translation: undefined }), EN)).toEqual({ show: 'original', marker: null });
  });

  it('pending and failed translations are markers under the original', () => {
    expect(inboundDisplay(ru({ translations: [], translation: { state: 'pending' } }), EN)).toEqual({ show: 'original', marker: { kind: 'pending' } });
    expect(inboundDisplay(ru({ translations: [], translation: { state: 'failed', reason: 'quota exceeded', retrying: true } }), EN)).toEqual({
      show: 'original',
      marker: { kind: 'failed', reason: 'quota exceeded', retrying: true },
    });
    // a language the agent reads needs no translation: no marker either
    expect(inboundDisplay(msg('m', 'cv', { language: 'en', translation: { state: 'pending' } }), EN)).toEqual({ show: 'original', marker: null });
  });

  it('a message of unknown language that was translated shows the translation (from an unknown language)', () => {
    const d = inboundDisplay(ru({ language: null }), EN);
    expect(d.show === 'translation' && d.from).toBe(null);
  });
});

describe('what a reply was sent as', () => {
  it('done with a target: the translation into the target, not the first one', () => {
    expect(outboundDisplay(reply({ state: 'done', target: 'ru' }))).toEqual({
      show: 'sent',
      language: 'ru',
      translation: { language: 'ru', text: 'Отправим завтра.', provider: 'deepl' },
    });
    expect(outboundDisplay(reply({ state: 'done' })).show).toBe('none');
    expect(outboundDisplay(reply({ state: 'not_needed' })).show).toBe('none');
    expect(outboundDisplay(reply(undefined)).show).toBe('none');
    expect(outboundDisplay(reply({ state: 'some_future_state' })).show).toBe('none');
  });

  it('pending and failed are held; sent_original is not', () => {
    expect(isHeld(reply({ state: 'pending', target: 'ru' }))).toBe(true);
    expect(isHeld(reply({ state: 'failed', reason: 'x', retrying: true }))).toBe(true);
    expect(isHeld(reply({ state: 'failed', reason: 'x' }))).toBe(true);
    expect(isHeld(reply({ state: 'sent_original' }))).toBe(false);
    expect(isHeld(reply({ state: 'done', target: 'ru' }))).toBe(false);
    expect(isHeld(ru({ translation: { state: 'pending' } }))).toBe(false); // inbound is never held
    expect(outboundDisplay(reply({ state: 'failed', reason: 'DeepL: 456 quota exceeded', target: 'ru' }))).toEqual({
      show: 'failed',
      language: 'ru',
      reason: 'DeepL: 456 quota exceeded',
      retrying: false,
    });
  });
});

describe('the translation setup and options', () => {
  it('is read defensively', () => {
    expect(parseTranslationSetup(null)).toBeNull();
    expect(parseTranslationSetup({ error: 'x' })).toBeNull();
    expect(
      parseTranslationSetup({ enabled: true, providers: ['deepl', 3], quota: [{ provider: 'deepl', used_today: 1200, limit: 500000, reached: false }, { provider: 'google', used_today: 9, limit: null, reached: true }, 'x'] }),
    ).toEqual({
      enabled: true,
      providers: ['deepl'],
      quota: [
        { provider: 'deepl', used_today: 1200, limit: 500000, reached: false },
        { provider: 'google', used_today: 9, limit: null, reached: true },
      ],
    });
  });

  it('the preview is wanted only when translation is on and the customer writes a language the agent does not read', () => {
    const on: TranslationSetup = { enabled: true, providers: ['deepl'], quota: [] };
    expect(wantsPreview(on, 'ru', EN)).toBe(true);
    expect(wantsPreview(on, 'en-GB', EN)).toBe(false);
    expect(wantsPreview(on, null, EN)).toBe(false);
    expect(wantsPreview({ ...on, enabled: false }, 'ru', EN)).toBe(false);
    expect(wantsPreview(null, 'ru', EN)).toBe(false);
  });

  it("the language options are the current one, the agent's and the common ones, one per primary subtag", () => {
    const opts = languageOptions({ language: 'he', languages: ['he', 'zh-Hans'] }, 'pt-BR');
    expect(opts.slice(0, 3)).toEqual(['pt-BR', 'he', 'zh-Hans']);
    expect(opts).toContain('uk');
    expect(opts).toContain('tr');
    expect(opts).not.toContain('pt');
    expect(opts).not.toContain('zh');
    expect(new Set(opts).size).toBe(opts.length);
    expect(opts).toHaveLength(13); // the 12 common ones, pt-BR and zh-Hans standing for pt and zh, and he
  });

  it('language names follow the UI language', () => {
    expect(languageName('en', 'ru')).toBe('Russian');
    expect(languageName('zh-CN', 'ru')).toBe('俄语');
    expect(languageName('en', 'not a tag!')).toBe('not a tag!');
  });

  it("the languages payload leaves out the agent's own language and doubles", () => {
    expect(languagesPayload('ru', ['de', 'ru', 'zh', 'zh-Hans'])).toEqual({ language: 'ru', reads: ['de', 'zh'] });
  });
});
