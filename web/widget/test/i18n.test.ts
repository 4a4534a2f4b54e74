import { describe, expect, it } from 'vitest';
import { LANGS, LAUNCHER, isRtl, pickLang } from '../src/common';
import { DICTS, translator } from '../src/panel/i18n';

describe('i18n', () => {
  const keys = Object.keys(DICTS.en).sort();
  for (const lang of LANGS) {
    it(`${lang} has every key, non-empty, with the same placeholders`, () => {
      expect(Object.keys(DICTS[lang]).sort()).toEqual(keys);
      for (const k of keys) {
        const v = DICTS[lang][k as keyof typeof DICTS.en];
        expect(v.trim(), `${lang}.${k}`).not.toBe('');
        const ph = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
        expect(ph(v), `${lang}.${k}`).toEqual(ph(DICTS.en[k as keyof typeof DICTS.en]));
      }
      expect(LAUNCHER[lang]).toHaveLength(2);
    });
  }

  it('only Arabic is right to left', () => {
    expect(LANGS.filter(isRtl)).toEqual(['ar']);
  });

  it('picks data-lang first, then the browser languages, else English', () => {
    expect(pickLang('ar', ['en-US'])).toBe('ar');
    expect(pickLang(null, ['zh-CN', 'en'])).toBe('zh');
    expect(pickLang('', ['pt-BR', 'es-MX'])).toBe('es');
    expect(pickLang('fr', ['de'])).toBe('en');
    expect(pickLang('RU_ru')).toBe('ru');
  });

  it('fills placeholders literally', () => {
    const t = translator('en');
    expect(t('continuedAs', { name: '$& <b>x</b>' })).toBe('Continued on Telegram as $& <b>x</b>');
  });
});
