// Attachments without DOM: sizes, links, upload limits, the checks made before an upload and
// the multipart body of a reply with files. Unit-tested (test/attachments.test.ts).

import type { Attachment, Message } from './types';

/** Kinds whose bytes are a file (fetched into blob storage, linked with a signed `url`). */
export const FILE_KINDS = ['image', 'file', 'audio', 'voice', 'video', 'sticker'];

export function hasBytes(a: Attachment): boolean {
  return FILE_KINDS.includes(a.kind);
}

/** Stored (a `blob`) but this copy has no link: an event brought it; the HTTP API adds links. */
export function wantsLink(a: Attachment): boolean {
  return hasBytes(a) && !!a.blob && !a.url;
}

/** A file still on its way to storage: no link and no note saying why there will be none. */
export function isFetching(a: Attachment): boolean {
  return hasBytes(a) && !a.url && !a.note;
}

/** "512 B", "1.4 KB", "12 MB": binary units, one decimal below 10. */
export function humanSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? Math.round(v * 10) / 10 : Math.round(v)} ${units[i]}`;
}

/** "0:07", "12:03", "1:02:03". */
export function duration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs) || secs < 0) return '';
  const s = Math.round(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function coords(lat: number, lon: number): string {
  return `${lat.toFixed(6)}, ${lon.toFixed(6)}`;
}

/** An OpenStreetMap link (no key needed), as the server builds it (`Attachment::map_url`). */
export function mapUrl(lat: number, lon: number): string {
  const [a, b] = [lat.toFixed(6), lon.toFixed(6)];
  return `https://www.openstreetmap.org/?mlat=${a}&mlon=${b}#map=17/${a}/${b}`;
}

/**
 * A followable link to a file: an absolute http(s) URL, or a path on the API (`/files/…`,
 * resolved against `apiBase`, '' = this origin). Anything else (`javascript:`, `data:`, a
 * protocol-relative `//host`, a Telegram file id) gives null.
 */
export function fileHref(url: string | null | undefined, apiBase: string): string | null {
  if (!url) return null;
  if (/^https?:\/\//i.test(url)) return url;
  if (url.startsWith('/') && !url.startsWith('//') && !url.startsWith('/\\')) return apiBase + url;
  return null;
}

export function isPlainImage(mime: string | null | undefined): boolean {
  return !!mime && /^image\/(png|jpe?g|gif|webp|avif|bmp)$/i.test(mime.split(';')[0].trim());
}

/** Images of a message shown as pictures (with a link); several make an album grid. */
export function pictures(m: Message): Attachment[] {
  return m.attachments.filter((a) => a.kind === 'image');
}

/** Messages holding a stored file without a link (they came through the WebSocket). */
export function needLinks(messages: Message[]): Message[] {
  return messages.filter((m) => m.attachments.some(wantsLink));
}

// ---------- upload limits ----------

export interface ChannelLimit {
  maxBytes: number;
  /** Telegram sends larger images as documents; informative only. */
  photoMaxBytes?: number;
}

export interface Limits {
  maxFiles: number;
  channels: Record<string, ChannelLimit>;
}

const MB = 1024 * 1024;

/** Used until (and unless) `GET /api/v1/limits` answers: Telegram's bot limits, 20 MB elsewhere. */
export const DEFAULT_LIMITS: Limits = {
  maxFiles: 10,
  channels: { telegram: { maxBytes: 50 * MB, photoMaxBytes: 10 * MB }, web: { maxBytes: 20 * MB }, email: { maxBytes: 20 * MB } },
};

const posInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined);

/**
 * Reads `GET /api/v1/limits` defensively: `{max_file_bytes, max_files, channels: {<ch>:
 * {max_file_bytes, photo_max_bytes}}}` (also `max_bytes`, or a bare number per channel); a
 * top-level size is the limit of every channel not named. What is missing or malformed keeps
 * the default.
 */
export function parseLimits(raw: unknown): Limits {
  const o = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const channels: Record<string, ChannelLimit> = { ...DEFAULT_LIMITS.channels };
  const top = posInt(o.max_file_bytes) ?? posInt(o.max_bytes);
  if (top) for (const k of Object.keys(channels)) channels[k] = { ...channels[k], maxBytes: top };
  const ch = o.channels && typeof o.channels === 'object' ? (o.channels as Record<string, unknown>) : {};
  for (const [name, v] of Object.entries(ch)) {
    const n = posInt(v);
    if (n) {
      channels[name] = { maxBytes: n };
      continue;
    }
    if (!v || typeof v !== 'object') continue;
    const c = v as Record<string, unknown>;
    const maxBytes = posInt(c.max_file_bytes) ?? posInt(c.max_bytes) ?? channels[name]?.maxBytes;
    if (!maxBytes) continue;
    const photo = posInt(c.photo_max_bytes);
    channels[name] = photo ? { maxBytes, photoMaxBytes: photo } : { maxBytes };
  }
  return { maxFiles: posInt(o.max_files) ?? DEFAULT_LIMITS.maxFiles, channels };
}

export function limitFor(l: Limits, channel: string): ChannelLimit {
  return l.channels[channel] ?? { maxBytes: 20 * MB };
}

export interface FileLike {
  name: string;
  size: number;
  type: string;
}

export type Refusal = { code: 'too_large'; name: string; size: number; max: number } | { code: 'too_many'; max: number };

/** Which of `added` fit next to `held` under the channel's limits; the rest with the reason. */
export function checkFiles<F extends FileLike>(held: readonly FileLike[], added: readonly F[], limits: Limits, channel: string): { accepted: F[]; refused: Refusal[] } {
  const { maxBytes } = limitFor(limits, channel);
  const accepted: F[] = [];
  const refused: Refusal[] = [];
  let tooMany = false;
  for (const f of added) {
    if (f.size > maxBytes) refused.push({ code: 'too_large', name: f.name, size: f.size, max: maxBytes });
    else if (held.length + accepted.length >= limits.maxFiles) tooMany = true;
    else accepted.push(f);
  }
  if (tooMany) refused.push({ code: 'too_many', max: limits.maxFiles });
  return { accepted, refused };
}

/** `screenshot-20260102-101112.png` for a pasted image with no real name (Chrome: "image.png"). */
export function pastedName(file: FileLike, now: Date): string {
  if (file.name && !/^image\.\w+$/i.test(file.name)) return file.name;
  const ext = (/^image\/(\w+)/.exec(file.type)?.[1] ?? 'png').replace('jpeg', 'jpg');
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `screenshot-${stamp}.${ext}`;
}

/**
 * The multipart body of `POST /conversations/{id}/messages` with files: `text` (may be
 * empty), `client_id` (the idempotency key, as in the JSON body) and one `file` part per file.
 */
export function replyForm(text: string, clientId: string, files: readonly File[]): FormData {
  const form = new FormData();
  form.append('text', text);
  form.append('client_id', clientId);
  for (const f of files) form.append('file', f, f.name);
  return form;
}
