// A fake DeepL API v2 (`POST /v2/translate`) for the browser tests, on 127.0.0.1. It checks what
// DeepL checks — `Authorization: DeepL-Auth-Key <key>` (403 `{"message":"Forbidden"}`), a body
// of at most 128 KiB (413), `text` as an array of strings and `target_lang` (400) — and
// "translates" with a tiny phrase table: whole phrases, longest first, case-insensitive, the
// first letter's case kept; unknown words and the server's `⟦n⟧` placeholders (protected
// URLs, numbers, e-mails…) pass through untouched. It records every request and can be told
// to fail the next N requests (503 by default), after an optional delay.

import { createServer } from 'node:http';

/** DeepL's limit on a request body. */
export const MAX_BODY = 128 * 1024;

/** One phrase per language: en, ru, zh. Keep it to what the tests say. */
const LANGS = ['en', 'ru', 'zh'];
const PHRASES = [
  ['hello', 'здравствуйте', '你好'],
  ['where is my order', 'где мой заказ', '我的订单在哪里'],
  ['your order', 'ваш заказ', '您的订单'],
  ['my order', 'мой заказ', '我的订单'],
  ['has been shipped', 'отправлен', '已发货'],
  ['thank you', 'спасибо', '谢谢'],
];

/** The source language of a text DeepL was not told it: by script, as far as these tests go. */
function detect(text) {
  if (/\p{Script=Cyrillic}/u.test(text)) return 'ru';
  if (/\p{Script=Han}/u.test(text)) return 'zh';
  return 'en';
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `text` from `source` into `target` (primary subtags) through the phrase table. */
export function translate(text, source, target) {
  const from = LANGS.indexOf(source);
  const to = LANGS.indexOf(target);
  if (from < 0 || to < 0 || from === to) return text;
  const pairs = PHRASES.filter((p) => p[from] && p[to]).sort((a, b) => b[from].length - a[from].length);
  if (!pairs.length) return text;
  const word = source === 'zh' ? '' : '(?<![\\p{L}\\p{N}])'; // Chinese has no spaces between words
  const end = source === 'zh' ? '' : '(?![\\p{L}\\p{N}])';
  const re = new RegExp(`${word}(${pairs.map((p) => escape(p[from])).join('|')})${end}`, 'giu');
  return text.replace(re, (found) => {
    const out = pairs.find((p) => p[from].toLowerCase() === found.toLowerCase())[to];
    const upper = found[0] !== found[0].toLowerCase();
    return upper ? out[0].toUpperCase() + out.slice(1) : out;
  });
}

/**
 * A fake DeepL accepting `key`. `listen` it yourself; `url(port)` is the base URL the server
 * takes as `DEEPL_API_URL`. `requests`: every request as `{auth, body, status}` (body parsed,
 * or null). `failNext(n, {status, delayMs})` answers the next `n` requests with `status` and
 * DeepL's error body; `reset()` ends that.
 */
export function createFakeDeepl(key) {
  const requests = [];
  let failing = 0;
  let failStatus = 503;
  let failDelay = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY + 1) chunks.push(c);
    });
    req.on('end', () => {
      let body = null;
      try {
        body = size > MAX_BODY ? null : JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        /* refused below */
      }
      const entry = { auth: req.headers.authorization ?? null, body, status: null };
      requests.push(entry);
      const answer = (status, json) => {
        entry.status = status;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/v2/translate') return answer(404, { message: 'Not found' });
      if (size > MAX_BODY) return answer(413, { message: 'Request Entity Too Large' });
      if (req.headers.authorization !== `DeepL-Auth-Key ${key}`) return answer(403, { message: 'Forbidden' });
      if (failing > 0) {
        failing--;
        const status = failStatus;
        setTimeout(() => answer(status, { message: status === 456 ? 'Quota Exceeded' : 'Service Unavailable' }), failDelay);
        return;
      }
      if (!body || typeof body !== 'object') return answer(400, { message: 'Bad request. Reason: the body is not JSON' });
      const texts = body.text;
      if (!Array.isArray(texts) || !texts.length) return answer(400, { message: "Bad request. Reason: Parameter 'text' not specified." });
      if (!texts.every((t) => typeof t === 'string')) return answer(400, { message: "Value for 'text' not supported." });
      if (typeof body.target_lang !== 'string' || !body.target_lang) return answer(400, { message: "Bad request. Reason: Parameter 'target_lang' not specified." });
      if (/^(EN|PT)$/i.test(body.target_lang)) return answer(400, { message: "Value for 'target_lang' not supported." });
      const target = body.target_lang.split('-')[0].toLowerCase();
      const given = typeof body.source_lang === 'string' ? body.source_lang.toLowerCase() : null;
      answer(200, {
        translations: texts.map((text) => {
          const source = given ?? detect(text);
          return { detected_source_language: source.toUpperCase(), text: translate(text, source, target) };
        }),
      });
    });
  });
  return {
    server,
    requests,
    url: (port) => `http://127.0.0.1:${port}`,
    failNext(n, { status = 503, delayMs = 0 } = {}) {
      failing = n;
      failStatus = status;
      failDelay = delayMs;
    },
    reset() {
      failing = 0;
    },
  };
}
