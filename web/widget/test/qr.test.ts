import jsQR from 'jsqr';
import { describe, expect, it } from 'vitest';
import { qrMatrix, qrSvg } from '../src/panel/qr';

/** Render the matrix to RGBA pixels (4 px per module, 4-module quiet zone) and decode it. */
function decode(m: boolean[][]): string | null {
  const scale = 4;
  const n = (m.length + 8) * scale;
  const px = new Uint8ClampedArray(n * n * 4).fill(255);
  m.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (!dark) return;
      for (let dy = 0; dy < scale; dy++)
        for (let dx = 0; dx < scale; dx++) {
          const o = (((y + 4) * scale + dy) * n + (x + 4) * scale + dx) * 4;
          px[o] = px[o + 1] = px[o + 2] = 0;
        }
    }),
  );
  return jsQR(px, n, n)?.data ?? null;
}

describe('QR encoder (byte mode, level M)', () => {
  const cases = [
    'https://t.me/shop_bot',
    'https://t.me/shop_support_bot?start=Zm9vYmFyYmF6cXV1eDEyMzQ1Njc4OTAxMjM0NTY3ODkwYWJjZGVm',
    `https://t.me/a_rather_long_bot_name_bot?start=${'x'.repeat(64)}`,
    `https://t.me/b?start=${'A1_-'.repeat(35)}`,
    'héllo 你好',
  ];
  for (const text of cases) {
    it(`round-trips ${text.length} chars`, () => {
      const m = qrMatrix(text);
      expect(m).not.toBeNull();
      expect(decode(m!)).toBe(text);
    });
  }

  it('picks the smallest version: 21×21 for short text, ≤ 45×45 (v7) for a ~90 char deep link', () => {
    expect(qrMatrix('hi')!.length).toBe(21);
    expect(qrMatrix(`https://t.me/shop_bot?start=${'a'.repeat(64)}`)!.length).toBeLessThanOrEqual(45);
  });

  it('returns null above version 10', () => {
    expect(qrMatrix('x'.repeat(300))).toBeNull();
  });

  it('builds an SVG with a label and no markup parsing', () => {
    const svg = qrSvg('https://t.me/x?start=<img src=x onerror=alert(1)>', 'scan me')!;
    expect(svg.getAttribute('aria-label')).toBe('scan me');
    expect(svg.querySelector('img')).toBeNull();
  });
});
