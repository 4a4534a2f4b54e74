import { describe, expect, it } from 'vitest';
import {
  aiOn, byUpdated, canHandBack, faqInput, faqProblems, filterFaq, formOf, formatCost, formatLatency, formatTokens, pageOf, parseAiSetup, questionLines,
  upsertEntry, withSuggestion,
} from '../src/ai';
import { translate } from '../src/i18n';
import type { FaqEntry } from '../src/types';

const entry = (id: string, patch: Partial<FaqEntry> = {}): FaqEntry => ({
  id,
  questions: [`Question ${id}?`],
  answer: `Answer ${id}.`,
  language: null,
  enabled: true,
  updated_at: '2026-01-01T10:00:00Z',
  ...patch,
});

describe('the AI setup', () => {
  it('reads GET /ai, and refuses what is not its shape', () => {
    expect(parseAiSetup({ provider: 'kb', model: null, faq_entries: 12 })).toEqual({ provider: 'kb', model: null, faq_entries: 12 });
    expect(parseAiSetup({ provider: 'openai', model: 'gpt-4o-mini' })).toEqual({ provider: 'openai', model: 'gpt-4o-mini', faq_entries: 0 });
    expect(parseAiSetup(null)).toBeNull();
    expect(parseAiSetup('<html>')).toBeNull();
    expect(parseAiSetup({ error: { code: 'not_found' } })).toBeNull();
  });

  it('is on unless absent or off', () => {
    expect(aiOn(null)).toBe(false);
    expect(aiOn({ provider: 'off', model: null, faq_entries: 3 })).toBe(false);
    expect(aiOn({ provider: 'kb', model: null, faq_entries: 0 })).toBe(true);
  });
});

describe('a suggestion in the composer', () => {
  it('replaces an empty (or blank) draft', () => {
    expect(withSuggestion('', ' Delivery takes 2–3 working days. ')).toBe('Delivery takes 2–3 working days.');
    expect(withSuggestion('  \n', 'Hi')).toBe('Hi');
  });
  it('goes after a blank line below what the agent wrote', () => {
    expect(withSuggestion('Hello Ann,\n', 'Delivery takes 2–3 days.')).toBe('Hello Ann,\n\nDelivery takes 2–3 days.');
  });
  it('an empty suggestion leaves the draft alone', () => {
    expect(withSuggestion('Hello', '  ')).toBe('Hello');
  });
});

describe('hand back', () => {
  it('only from people: queued or assigned', () => {
    expect(canHandBack({ status: 'queued' })).toBe(true);
    expect(canHandBack({ status: 'assigned' })).toBe(true);
    expect(canHandBack({ status: 'bot' })).toBe(false);
    expect(canHandBack({ status: 'resolved' })).toBe(false);
  });
});

describe('the FAQ form', () => {
  it('one question per line, trimmed, blank and repeated lines dropped', () => {
    expect(questionLines(' How long does delivery take?\n\nWhen will my order arrive?\r\nhow long does delivery take?  \n')).toEqual([
      'How long does delivery take?',
      'When will my order arrive?',
    ]);
  });

  it('needs a question and an answer; a language, when given, is a tag', () => {
    expect(faqProblems({ questions: ' \n ', answer: '  ', language: '', enabled: true })).toEqual(['faq_needQuestion', 'faq_needAnswer']);
    expect(faqProblems({ questions: 'Q?', answer: 'A.', language: 'english please', enabled: true })).toEqual(['faq_badLanguage']);
    expect(faqProblems({ questions: 'Q?', answer: 'A.', language: 'pt-BR', enabled: false })).toEqual([]);
    expect(faqProblems({ questions: 'Q?', answer: 'A.', language: '', enabled: true })).toEqual([]);
    for (const p of ['faq_needQuestion', 'faq_needAnswer', 'faq_badLanguage'] as const) expect(translate('en', p)).not.toBe(p);
  });

  it('sends the cleaned body; an entry fills the form back', () => {
    expect(faqInput({ questions: 'A?\nB?\n', answer: ' The answer. ', language: ' ', enabled: false })).toEqual({ questions: ['A?', 'B?'], answer: 'The answer.', language: null, enabled: false });
    expect(faqInput({ questions: 'A?', answer: 'x', language: 'de', enabled: true }).language).toBe('de');
    expect(formOf(entry('f1', { questions: ['A?', 'B?'], language: 'en' }))).toEqual({ questions: 'A?\nB?', answer: 'Answer f1.', language: 'en', enabled: true });
  });
});

describe('the FAQ list', () => {
  const list = [
    entry('f1', { questions: ['How long does delivery take?', 'When will my order arrive?'], answer: 'Delivery takes 2–3 working days.' }),
    entry('f2', { questions: ['Can I return an item?'], answer: 'Yes, within 30 days.', language: 'en' }),
    entry('f3', { questions: ['Wie lange dauert der Versand?'], answer: '2–3 Werktage.', language: 'de' }),
  ];

  it('filters on every word, in questions, answer and language, any case', () => {
    expect(filterFaq(list, 'ORDER arrive').map((e) => e.id)).toEqual(['f1']);
    expect(filterFaq(list, '30 days').map((e) => e.id)).toEqual(['f2']);
    expect(filterFaq(list, 'de').map((e) => e.id)).toContain('f3');
    expect(filterFaq(list, '   ')).toHaveLength(3);
    expect(filterFaq(list, 'nothing like this')).toEqual([]);
  });

  it('a few thousand entries: filtered and paged quickly', () => {
    const many = Array.from({ length: 5000 }, (_, i) => entry(`f${i}`, { questions: [`Question number ${i}?`, `Variant ${i}`], answer: `Answer ${i % 7}` }));
    const started = performance.now();
    const hit = filterFaq(many, 'number 4999');
    const page = pageOf(filterFaq(many, ''), 99, 50);
    expect(performance.now() - started).toBeLessThan(500);
    expect(hit.map((e) => e.id)).toEqual(['f4999']);
    expect(page).toMatchObject({ page: 99, pages: 100 });
    expect(page.items).toHaveLength(50);
  });

  it('pages clamp to the range', () => {
    expect(pageOf([1, 2, 3], 5, 2)).toEqual({ items: [3], page: 1, pages: 2 });
    expect(pageOf([], 3, 50)).toEqual({ items: [], page: 0, pages: 1 });
    expect(pageOf([1, 2], -1, 50).page).toBe(0);
  });

  it('newest first; a saved entry replaces its old self or comes first', () => {
    const a = entry('a', { updated_at: '2026-01-02T00:00:00Z' });
    const b = entry('b', { updated_at: '2026-01-03T00:00:00Z' });
    expect([a, b].sort(byUpdated).map((e) => e.id)).toEqual(['b', 'a']);
    expect(upsertEntry([a, b], { ...a, enabled: false })).toEqual([{ ...a, enabled: false }, b]);
    expect(upsertEntry([a], b).map((e) => e.id)).toEqual(['b', 'a']);
  });
});

describe('the call log figures', () => {
  it('cost in dollars with 4 decimals from micro-dollars', () => {
    expect(formatCost(12_345)).toBe('$0.0123');
    expect(formatCost(0)).toBe('$0.0000');
    expect(formatCost(2_500_000)).toBe('$2.5000');
    expect(formatCost(null)).toBe('—');
  });
  it('latency and tokens', () => {
    expect(formatLatency(850)).toBe('850 ms');
    expect(formatLatency(1234)).toBe('1.2 s');
    expect(formatLatency(undefined)).toBe('—');
    expect(formatTokens({ input: 120, output: 45 })).toBe('120 → 45');
    expect(formatTokens(null)).toBe('—');
  });
});
