// How a message's attachments and its extras (reply quote, forward origin, edits) look. Every
// name, caption and field from the channel is a JSX text child or an attribute: nothing a
// customer sends is ever parsed as HTML. Files are only shown as <img>/<audio>/<video> or
// linked; a link that is not http(s) or a path on our API is not followed at all.

import { useEffect, useRef, useState } from 'preact/hooks';
import { coords, duration, fileHref, humanSize, isFetching, isPlainImage, mapUrl } from './attachments';
import type { Key } from './i18n';
import type { Attachment, Message } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

export interface AttachmentEnv {
  t: T;
  /** Prefix of file paths (`RuntimeConfig.apiBase`; '' = this origin). */
  apiBase: string;
  /** A file link failed to load (expired): fetch fresh links. */
  onLinkError?: () => void;
}

const EXTERNAL = { target: '_blank', rel: 'noopener noreferrer' } as const;

/** Line icons (24×24, stroked): drawn here, so they need no emoji font. */
const ICONS = {
  clip: 'M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l9-9a3.3 3.3 0 0 1 4.7 4.7l-9 9a1.7 1.7 0 0 1-2.4-2.4l8.3-8.3',
  file: 'M14 3H6.5A1.5 1.5 0 0 0 5 4.5v15A1.5 1.5 0 0 0 6.5 21h11a1.5 1.5 0 0 0 1.5-1.5V8zM14 3v5h5M8.5 13h7M8.5 16.5h7',
  image: 'M4 5h16v14H4zM4 16l4.5-4.5 4 4 2.5-2.5L20 18M15.5 9.5h.01',
  music: 'M9 18V5l11-2v13M9 18a3 3 0 1 1-6 0 3 3 0 0 1 6 0zM20 16a3 3 0 1 1-6 0 3 3 0 0 1 6 0z',
  film: 'M3 5h18v14H3zM7.5 5v14M16.5 5v14M3 9.5h4.5M3 14.5h4.5M16.5 9.5H21M16.5 14.5H21',
  pin: 'M12 21s-7-6.1-7-11a7 7 0 0 1 14 0c0 4.9-7 11-7 11zM12 12.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z',
  person: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4.5 21a7.5 7.5 0 0 1 15 0',
  chart: 'M5 20V11M12 20V4M19 20v-6M3 20h18',
  wait: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 7v5l3.5 2',
  bell: 'M6 16v-5a6 6 0 0 1 12 0v5l1.5 2h-15zM10 20.5a2 2 0 0 0 4 0',
  lock: 'M6 11h12v10H6zM8.5 11V8a3.5 3.5 0 0 1 7 0v3',
} as const;

export type IconName = keyof typeof ICONS;

export function Icon({ name, size = 22 }: { name: IconName; size?: number }) {
  return (
    <svg class="icon" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round">
      <path d={ICONS[name]} />
    </svg>
  );
}

function fileIcon(a: Attachment): IconName {
  const mime = a.mime_type ?? '';
  if (a.kind === 'audio' || a.kind === 'voice' || mime.startsWith('audio/')) return 'music';
  if (a.kind === 'video' || mime.startsWith('video/')) return 'film';
  if (a.kind === 'image' || mime.startsWith('image/')) return 'image';
  return 'file';
}

function nameOf(a: Attachment, t: T): string {
  return a.file_name || t(`att_${a.kind}` as Key) || a.kind;
}

/** Name and size of a file, for cards and placeholders. */
function NameSize({ a, t }: { a: Attachment; t: T }) {
  const size = humanSize(a.size_bytes);
  return (
    <span class="att-namesize">
      <span class="att-name" data-testid="attachment-name">{nameOf(a, t)}</span>
      {size && <span class="att-size" data-testid="attachment-size">{size}</span>}
    </span>
  );
}

function Note({ a }: { a: Attachment }) {
  return a.note ? (
    <div class="att-note" data-testid="attachment-note" role="note">
      ⚠ {a.note}
    </div>
  ) : null;
}

/** A file not stored yet (or stored, its link on the way). */
function Fetching({ a, t }: { a: Attachment; t: T }) {
  return (
    <div class="att-card att-fetching" data-testid="attachment" data-kind={a.kind} data-state="fetching">
      <span class="att-icon"><Icon name="wait" /></span>
      <span class="att-body">
        <span class="att-label">{t('att_fetching')}</span>
        <NameSize a={a} t={t} />
      </span>
    </div>
  );
}

function FileCard({ a, env }: { a: Attachment; env: AttachmentEnv }) {
  const href = fileHref(a.url, env.apiBase);
  return (
    <div class="att-card" data-testid="attachment" data-kind={a.kind}>
      <span class="att-icon"><Icon name={fileIcon(a)} /></span>
      <span class="att-body">
        <NameSize a={a} t={env.t} />
        {href ? (
          <a class="att-download" data-testid="attachment-download" href={href} download={a.file_name || ''}>
            {env.t('att_download')}
          </a>
        ) : null}
        <Note a={a} />
      </span>
    </div>
  );
}

function Media({ a, env }: { a: Attachment; env: AttachmentEnv }) {
  const href = fileHref(a.url, env.apiBase);
  if (!href) return a.note ? <FileCard a={a} env={env} /> : <Fetching a={a} t={env.t} />;
  const d = duration(a.duration_secs);
  const label = `${nameOf(a, env.t)}${d ? ` (${d})` : ''}`;
  return (
    <div class={`att-media att-${a.kind}`} data-testid="attachment" data-kind={a.kind}>
      {a.kind === 'video' ? (
        <video controls preload="metadata" src={href} aria-label={label} data-testid="attachment-video" onError={env.onLinkError} />
      ) : (
        <audio controls preload="metadata" src={href} aria-label={label} data-testid="attachment-audio" onError={env.onLinkError} />
      )}
      <div class="att-caption">
        {a.kind === 'voice' ? env.t('att_voice') : nameOf(a, env.t)}
        {d && <span class="att-duration" data-testid="attachment-duration">{d}</span>}
        {humanSize(a.size_bytes) && <span class="att-size">{humanSize(a.size_bytes)}</span>}
        <a class="att-download" href={href} download={a.file_name || ''}>
          {env.t('att_download')}
        </a>
      </div>
      <Note a={a} />
    </div>
  );
}

function Sticker({ a, env }: { a: Attachment; env: AttachmentEnv }) {
  const href = fileHref(a.url, env.apiBase);
  const emoji = a.emoji || '🏷';
  return (
    <div class="att-sticker" data-testid="attachment" data-kind="sticker" title={env.t('att_sticker')}>
      {href && isPlainImage(a.mime_type) ? (
        <img src={href} alt={`${env.t('att_sticker')} ${emoji}`} loading="lazy" onError={env.onLinkError} />
      ) : (
        <span class="att-emoji" role="img" aria-label={`${env.t('att_sticker')} ${emoji}`}>{emoji}</span>
      )}
    </div>
  );
}

function Location({ a, t }: { a: Attachment; t: T }) {
  const ok = typeof a.latitude === 'number' && typeof a.longitude === 'number';
  return (
    <div class="att-card att-location" data-testid="attachment" data-kind="location">
      <span class="att-icon"><Icon name="pin" /></span>
      <span class="att-body">
        {a.title && <span class="att-name">{a.title}</span>}
        {a.address && <span class="att-sub">{a.address}</span>}
        {ok && <span class="att-coords" data-testid="location-coords">{coords(a.latitude!, a.longitude!)}</span>}
        {ok && (
          <a data-testid="location-map" href={mapUrl(a.latitude!, a.longitude!)} {...EXTERNAL}>
            {t('att_openMap')}
          </a>
        )}
      </span>
    </div>
  );
}

function ContactCard({ a, t }: { a: Attachment; t: T }) {
  const tel = a.phone ? a.phone.replace(/[^\d+]/g, '') : '';
  return (
    <div class="att-card" data-testid="attachment" data-kind="contact">
      <span class="att-icon"><Icon name="person" /></span>
      <span class="att-body">
        <span class="att-name">{a.title || t('att_contact')}</span>
        {a.phone && (tel ? <a href={`tel:${tel}`} data-testid="contact-phone">{a.phone}</a> : <span>{a.phone}</span>)}
      </span>
    </div>
  );
}

function Poll({ a, t }: { a: Attachment; t: T }) {
  return (
    <div class="att-card att-poll" data-testid="attachment" data-kind="poll">
      <span class="att-icon"><Icon name="chart" /></span>
      <span class="att-body">
        <span class="att-label">{t('att_poll')}</span>
        <span class="att-name">{a.title ?? ''}</span>
        <ul class="att-options">
          {(a.options ?? []).map((o) => (
            <li>{o}</li>
          ))}
        </ul>
      </span>
    </div>
  );
}

function Dice({ a, t }: { a: Attachment; t: T }) {
  return (
    <div class="att-dice" data-testid="attachment" data-kind="dice" title={t('att_dice')}>
      <span class="att-emoji" aria-hidden="true">{a.emoji || '🎲'}</span>
      <span data-testid="dice-value">{a.value ?? '?'}</span>
    </div>
  );
}

/** One attachment that is not a picture (pictures go through `Pictures`). */
export function AttachmentView({ a, env }: { a: Attachment; env: AttachmentEnv }) {
  switch (a.kind) {
    case 'audio':
    case 'voice':
    case 'video':
      return <Media a={a} env={env} />;
    case 'sticker':
      return <Sticker a={a} env={env} />;
    case 'location':
      return <Location a={a} t={env.t} />;
    case 'contact':
      return <ContactCard a={a} t={env.t} />;
    case 'poll':
      return <Poll a={a} t={env.t} />;
    case 'dice':
      return <Dice a={a} t={env.t} />;
    case 'file':
      return isFetching(a) ? <Fetching a={a} t={env.t} /> : <FileCard a={a} env={env} />;
    default:
      // An unknown kind from a newer server: a card with whatever it has.
      return <FileCard a={a} env={env} />;
  }
}

/** Images inline (several: an album grid); a click opens the lightbox. */
export function Pictures({ items, env }: { items: Attachment[]; env: AttachmentEnv }) {
  const [open, setOpen] = useState<number | null>(null);
  const shown = items.filter((a) => fileHref(a.url, env.apiBase));
  return (
    <div class={items.length > 1 ? 'att-album' : 'att-single'} data-testid={items.length > 1 ? 'album' : undefined} data-count={items.length}>
      {items.map((a) => {
        const href = fileHref(a.url, env.apiBase);
        if (!href) return a.note ? <FileCard a={a} env={env} /> : <Fetching a={a} t={env.t} />;
        const alt = a.file_name || env.t('att_image');
        return (
          <button type="button" class="att-thumb" data-testid="attachment" data-kind="image" aria-label={env.t('att_enlarge', { a: alt })} onClick={() => setOpen(shown.indexOf(a))}>
            <img src={href} alt={alt} loading="lazy" width={a.width ?? undefined} height={a.height ?? undefined} data-testid="attachment-image" onError={env.onLinkError} />
          </button>
        );
      })}
      {open !== null && shown[open] && <Lightbox items={shown} index={open} setIndex={setOpen} env={env} />}
    </div>
  );
}

/** The picture large, over the page: Esc, the × or a click beside it closes; ←/→ step through an album. */
export function Lightbox({ items, index, setIndex, env }: { items: Attachment[]; index: number; setIndex: (i: number | null) => void; env: AttachmentEnv }) {
  const closeRef = useRef<HTMLButtonElement>(null);
  const a = items[index];
  useEffect(() => {
    const back = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    return () => back?.focus?.();
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        setIndex(null);
      } else if (e.key === 'ArrowRight' && index < items.length - 1) setIndex(index + 1);
      else if (e.key === 'ArrowLeft' && index > 0) setIndex(index - 1);
    };
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
  }, [index, items.length]);
  const href = fileHref(a.url, env.apiBase)!;
  const name = a.file_name || env.t('att_image');
  return (
    <div class="lightbox" role="dialog" aria-modal="true" aria-label={name} data-testid="lightbox" onClick={(e) => e.target === e.currentTarget && setIndex(null)}>
      <figure>
        <img src={href} alt={name} data-testid="lightbox-image" />
        <figcaption>
          <span>{name}</span>
          {items.length > 1 && <span>{` ${index + 1} / ${items.length}`}</span>}
          {humanSize(a.size_bytes) && <span class="att-size">{humanSize(a.size_bytes)}</span>}
          <a href={href} download={a.file_name || ''}>{env.t('att_download')}</a>
          <a href={href} {...EXTERNAL}>{env.t('att_openNewTab')}</a>
        </figcaption>
      </figure>
      <button type="button" class="lightbox-close" ref={closeRef} data-testid="lightbox-close" aria-label={env.t('close')} onClick={() => setIndex(null)}>
        ×
      </button>
    </div>
  );
}

/** All of a message's attachments: pictures first (as Telegram shows an album), then the rest in order. */
export function Attachments({ m, env }: { m: Message; env: AttachmentEnv }) {
  const list = m.attachments ?? [];
  if (list.length === 0) return null;
  const pics = list.filter((a) => a.kind === 'image');
  const rest = list.filter((a) => a.kind !== 'image');
  return (
    <div class="attachments" data-testid="attachments">
      {pics.length > 0 && <Pictures items={pics} env={env} />}
      {rest.map((a) => (
        <AttachmentView a={a} env={env} />
      ))}
    </div>
  );
}

/** "Forwarded from X" and the quoted message this one answers, above the text. */
export function MessageContext({ m, t }: { m: Message; t: T }) {
  return (
    <>
      {m.forwarded_from && (
        <div class="forwarded" data-testid="forwarded">
          {t('forwardedFrom', { a: m.forwarded_from })}
        </div>
      )}
      {m.reply_to && (
        <blockquote class="quote" data-testid="reply-quote">
          {m.reply_to.author && <span class="quote-author">{m.reply_to.author}</span>}
          <span class="quote-text">{m.reply_to.text}</span>
        </blockquote>
      )}
    </>
  );
}

/** The "edited" marker (beside the time): the earlier texts as its tooltip; a click lists them (`EditHistory`). */
export function Edited({ m, t, open, toggle }: { m: Message; t: T; open: boolean; toggle: () => void }) {
  if (!m.edited_at) return null;
  const history = m.edit_history ?? [];
  const tip = history.length ? `${t('editedBefore')}\n${history.map((h) => `• ${h.text}`).join('\n')}` : t('edited');
  return (
    <button type="button" class="edited" data-testid="edited" title={tip} aria-expanded={history.length ? open : undefined} disabled={history.length === 0} onClick={toggle}>
      {t('edited')}
    </button>
  );
}

/** The texts a message had before its edits, oldest first. */
export function EditHistory({ m, t }: { m: Message; t: T }) {
  const history = m.edit_history ?? [];
  if (!history.length) return null;
  return (
    <div class="edit-history" data-testid="edit-history">
      <span class="label">{t('editedBefore')}</span>
      <ol>
        {history.map((h) => (
          <li>
            <span class="text">{h.text}</span> <time>{new Date(h.replaced_at).toLocaleString()}</time>
          </li>
        ))}
      </ol>
    </div>
  );
}

/** Buttons offered with the message (read-only here: the customer presses them). */
export function Buttons({ m }: { m: Message }) {
  if (!m.buttons?.length) return null;
  return (
    <div class="msg-buttons" data-testid="message-buttons">
      {m.buttons.map((b) => (
        <span class="msg-button">{b.text}</span>
      ))}
    </div>
  );
}
