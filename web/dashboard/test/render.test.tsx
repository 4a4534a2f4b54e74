// @vitest-environment happy-dom
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Attachments, EditHistory, Edited, MessageContext, type AttachmentEnv } from '../src/attachment-view';
import { translate, type Key } from '../src/i18n';
import type { Attachment, Message } from '../src/types';
import { msg } from './fixtures';

const t = (key: Key, vars?: Record<string, string>) => translate('en', key, vars);
let root: HTMLElement;
beforeEach(() => {
  root = document.createElement('div');
  document.body.appendChild(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
});

function show(attachments: Attachment[], env: Partial<AttachmentEnv> = {}, patch: Partial<Message> = {}) {
  act(() => render(<Attachments m={msg('m1', 'cv', { attachments, ...patch })} env={{ t, apiBase: '', ...env }} />, root));
  return root;
}
const $ = (sel: string) => root.querySelector(sel) as HTMLElement | null;
const $$ = (sel: string) => Array.from(root.querySelectorAll(sel)) as HTMLElement[];
const file = (patch: Partial<Attachment>): Attachment => ({ kind: 'file', reference: 'tg-file:X', blob: 'sha256/x', url: '/files/x?exp=1&sig=s', ...patch });

describe('attachments in a message', () => {
  it('an image shows inline, as a button that opens it', () => {
    show([file({ kind: 'image', file_name: 'photo.jpg', mime_type: 'image/jpeg', width: 640, height: 480 })]);
    const img = $('[data-testid="attachment-image"]') as HTMLImageElement;
    expect(img.getAttribute('src')).toBe('/files/x?exp=1&sig=s');
    expect(img.getAttribute('alt')).toBe('photo.jpg');
    expect(img.closest('button')?.getAttribute('aria-label')).toBe('Enlarge photo.jpg');
    expect($('[data-testid="album"]')).toBeNull();
  });

  it('an image link on another API origin is resolved against it', () => {
    show([file({ kind: 'image' })], { apiBase: 'https://api.example.com' });
    expect($('img')!.getAttribute('src')).toBe('https://api.example.com/files/x?exp=1&sig=s');
  });

  it('several images are one album grid', () => {
    show([1, 2, 3].map((i) => file({ kind: 'image', url: `/files/${i}` })).concat(file({ kind: 'file', file_name: 'a.pdf' })));
    const album = $('[data-testid="album"]')!;
    expect(album.getAttribute('data-count')).toBe('3');
    expect(album.querySelectorAll('img')).toHaveLength(3);
    expect($$('[data-kind="file"]')).toHaveLength(1);
  });

  it('the lightbox opens on click, steps with the arrows and closes on Esc, focus back on the thumbnail', () => {
    show([1, 2].map((i) => file({ kind: 'image', url: `/files/${i}`, file_name: `p${i}.png` })));
    const thumbs = $$('.att-thumb');
    thumbs[0].focus();
    act(() => thumbs[0].click());
    const box = $('[data-testid="lightbox"]')!;
    expect(box.getAttribute('role')).toBe('dialog');
    expect(box.getAttribute('aria-modal')).toBe('true');
    expect($('[data-testid="lightbox-image"]')!.getAttribute('src')).toBe('/files/1');
    expect(document.activeElement).toBe($('[data-testid="lightbox-close"]'));
    act(() => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true })));
    expect($('[data-testid="lightbox-image"]')!.getAttribute('src')).toBe('/files/2');
    act(() => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect($('[data-testid="lightbox"]')).toBeNull();
    expect(document.activeElement).toBe(thumbs[0]);
  });

  it('the lightbox closes on a click beside the picture or on ×, not on the picture', () => {
    show([file({ kind: 'image' })]);
    act(() => $('.att-thumb')!.click());
    act(() => $('[data-testid="lightbox-image"]')!.click());
    expect($('[data-testid="lightbox"]')).not.toBeNull();
    act(() => $('[data-testid="lightbox"]')!.click());
    expect($('[data-testid="lightbox"]')).toBeNull();
    act(() => $('.att-thumb')!.click());
    act(() => $('[data-testid="lightbox-close"]')!.click());
    expect($('[data-testid="lightbox"]')).toBeNull();
  });

  it('an image that fails to load (expired link) asks for fresh links', () => {
    const onLinkError = vi.fn();
    show([file({ kind: 'image' })], { onLinkError });
    $('img')!.dispatchEvent(new Event('error'));
    expect(onLinkError).toHaveBeenCalledTimes(1);
  });

  it('a file card has the name, the size and a download link (no new tab)', () => {
    show([file({ file_name: 'invoice.pdf', mime_type: 'application/pdf', size_bytes: 248_123 })]);
    expect($('[data-testid="attachment-name"]')!.textContent).toBe('invoice.pdf');
    expect($('[data-testid="attachment-size"]')!.textContent).toBe('242 KB');
    const a = $('[data-testid="attachment-download"]') as HTMLAnchorElement;
    expect(a.getAttribute('href')).toBe('/files/x?exp=1&sig=s');
    expect(a.getAttribute('download')).toBe('invoice.pdf');
    expect(a.getAttribute('target')).toBeNull();
  });

  it('audio and voice get a player and their length; video a video player', () => {
    show([file({ kind: 'voice', mime_type: 'audio/ogg', duration_secs: 7 }), file({ kind: 'audio', file_name: 'song.mp3', duration_secs: 185 }), file({ kind: 'video', file_name: 'clip.mp4', duration_secs: 12 })]);
    const audios = $$('audio');
    expect(audios).toHaveLength(2);
    expect(audios[0].hasAttribute('controls')).toBe(true);
    expect($$('[data-testid="attachment-duration"]').map((e) => e.textContent)).toEqual(['0:07', '3:05', '0:12']);
    expect($('[data-kind="voice"]')!.textContent).toContain('Voice message');
    const video = $('video')!;
    expect(video.hasAttribute('controls')).toBe(true);
    expect(video.getAttribute('src')).toBe('/files/x?exp=1&sig=s');
  });

  it('a sticker is a small picture, or its emoji when there is no picture', () => {
    show([file({ kind: 'sticker', emoji: '👍', mime_type: 'image/webp' })]);
    expect($('[data-kind="sticker"] img')!.getAttribute('alt')).toBe('Sticker 👍');
    show([{ kind: 'sticker', reference: 'tg-file:S', emoji: '🔥', mime_type: 'application/x-tgsticker' }]);
    expect($('[data-kind="sticker"] img')).toBeNull();
    expect($('[data-kind="sticker"]')!.textContent).toBe('🔥');
  });

  it('a location shows its coordinates as text, the venue, and an OpenStreetMap link in a new tab', () => {
    show([{ kind: 'location', reference: 'location', latitude: 52.52, longitude: 13.405, title: 'Cafe Einstein', address: 'Unter den Linden 42' }]);
    expect($('[data-testid="location-coords"]')!.textContent).toBe('52.520000, 13.405000');
    expect($('[data-kind="location"]')!.textContent).toContain('Cafe Einstein');
    expect($('[data-kind="location"]')!.textContent).toContain('Unter den Linden 42');
    const a = $('[data-testid="location-map"]')!;
    expect(a.getAttribute('href')).toBe('https://www.openstreetmap.org/?mlat=52.520000&mlon=13.405000#map=17/52.520000/13.405000');
    expect(a.getAttribute('target')).toBe('_blank');
    expect(a.getAttribute('rel')).toBe('noopener noreferrer');
  });

  it('a contact card has the name and the phone as a tel: link', () => {
    show([{ kind: 'contact', reference: 'contact', title: 'Max Mustermann', phone: '+49 30 1234567' }]);
    expect($('[data-kind="contact"]')!.textContent).toContain('Max Mustermann');
    expect($('[data-testid="contact-phone"]')!.getAttribute('href')).toBe('tel:+49301234567');
  });

  it('a poll lists its question and options; a dice its emoji and value', () => {
    show([{ kind: 'poll', reference: 'poll', title: 'Which colour?', options: ['Red', 'Blue'] }, { kind: 'dice', reference: 'dice', emoji: '🎯', value: 6 }]);
    expect($('[data-kind="poll"]')!.textContent).toContain('Which colour?');
    expect($$('[data-kind="poll"] li').map((li) => li.textContent)).toEqual(['Red', 'Blue']);
    expect($('[data-kind="dice"]')!.textContent).toBe('🎯6');
  });

  it('a file not stored yet shows "Fetching file…" with its name and size', () => {
    show([{ kind: 'image', reference: 'tg-file:P', size_bytes: 2048 }, { kind: 'file', reference: 'tg-file:D', file_name: 'scan.tiff', size_bytes: 3 * 1024 * 1024 }]);
    const fetching = $$('[data-state="fetching"]');
    expect(fetching).toHaveLength(2);
    expect(fetching[0].textContent).toContain('Fetching file…');
    expect(fetching[1].textContent).toContain('scan.tiff');
    expect(fetching[1].textContent).toContain('3 MB');
    expect($('img')).toBeNull();
  });

  it('a note (not downloaded) shows as a warning line instead of a placeholder', () => {
    show([{ kind: 'video', reference: 'tg-file:V', file_name: 'big.mp4', size_bytes: 31_457_280, note: "Not downloaded: over Telegram's 20 MB limit" }]);
    expect($('[data-testid="attachment-note"]')!.textContent).toContain('20 MB limit');
    expect($('[data-state="fetching"]')).toBeNull();
    expect($('[data-testid="attachment-download"]')).toBeNull();
  });

  it('markup in names and captions is text; a javascript: or data: link is never followed', () => {
    const evil = '<img src=x onerror="window.__x=1">';
    show([
      file({ file_name: evil, url: 'javascript:alert(1)' }),
      file({ kind: 'image', file_name: evil, url: 'data:text/html,<script>1</script>' }),
      { kind: 'contact', reference: 'c', title: evil, phone: 'javascript:alert(1)' },
      { kind: 'poll', reference: 'p', title: evil, options: [evil] },
    ]);
    expect($$('img')).toHaveLength(0);
    expect(root.textContent).toContain(evil);
    for (const a of $$('a')) expect(a.getAttribute('href') ?? '').not.toMatch(/^(javascript|data):/i);
  });

  it('an unknown kind from a newer server still shows as a card', () => {
    show([file({ kind: 'hologram', file_name: 'x.holo' })]);
    expect($('[data-kind="hologram"]')!.textContent).toContain('x.holo');
  });
});

describe('message extras', () => {
  it('"Forwarded from" and the reply quote show above the text', () => {
    act(() => render(<MessageContext m={msg('m1', 'cv', { forwarded_from: 'Shop News', reply_to: { text: 'Where is it?', author: 'Ann' } })} t={t} />, root));
    expect($('[data-testid="forwarded"]')!.textContent).toBe('Forwarded from Shop News');
    expect($('[data-testid="reply-quote"]')!.textContent).toBe('AnnWhere is it?');
  });

  it('"edited" carries the earlier texts as a tooltip and lists them on demand', () => {
    const m = msg('m1', 'cv', { text: 'XL', edited_at: '2026-01-01T10:05:00Z', edit_history: [{ text: 'L', replaced_at: '2026-01-01T10:01:00Z' }, { text: 'M', replaced_at: '2026-01-01T10:03:00Z' }] });
    const toggle = vi.fn();
    act(() => render(<Edited m={m} t={t} open={false} toggle={toggle} />, root));
    const b = $('[data-testid="edited"]')!;
    expect(b.textContent).toBe('edited');
    expect(b.getAttribute('title')).toBe('Before the edits:\n• L\n• M');
    act(() => b.click());
    expect(toggle).toHaveBeenCalled();
    act(() => render(<EditHistory m={m} t={t} />, root));
    expect($$('[data-testid="edit-history"] li .text').map((e) => e.textContent)).toEqual(['L', 'M']);
  });

  it('no marker for a message never edited', () => {
    act(() => render(<Edited m={msg('m1', 'cv')} t={t} open={false} toggle={() => {}} />, root));
    expect(root.innerHTML).toBe('');
  });
});
