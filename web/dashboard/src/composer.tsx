// Files in the composer: the attach button, a screenshot pasted, files dropped on the
// conversation, the tray of files waiting to be sent, and the limits checked before any upload.

import { useEffect, useRef, useState } from 'preact/hooks';
import { checkFiles, humanSize, isPlainImage, limitFor, pastedName, type Limits, type Refusal } from './attachments';
import type { Key } from './i18n';
import { Icon } from './attachment-view';

type T = (key: Key, vars?: Record<string, string>) => string;

export interface TrayFile {
  id: number;
  file: File;
  /** An object URL for an image's preview (revoked when it leaves the tray). */
  preview?: string;
}

let seq = 0;

/** The refusals as one sentence each, for the line under the tray. */
export function refusalText(r: Refusal, t: T, channelLabel: string): string {
  return r.code === 'too_large'
    ? t('fileTooLarge', { a: r.name, b: humanSize(r.size), c: humanSize(r.max), d: channelLabel })
    : t('tooManyFiles', { a: String(r.max) });
}

/** "Up to 50 MB per file on Telegram · 10 files". */
export function limitText(limits: Limits, channel: string, channelLabel: string, t: T): string {
  return t('limitHint', { a: humanSize(limitFor(limits, channel).maxBytes), b: channelLabel, c: String(limits.maxFiles) });
}

/** Files from a paste: images without a real name become `screenshot-<time>.<ext>`. */
export function filesFromPaste(data: DataTransfer | null, now: Date = new Date()): File[] {
  if (!data) return [];
  const out: File[] = [];
  const items = data.items ? Array.from(data.items) : [];
  const files = items.length ? items.filter((i) => i.kind === 'file').map((i) => i.getAsFile()).filter((f): f is File => !!f) : Array.from(data.files ?? []);
  for (const f of files) {
    const name = pastedName(f, now);
    out.push(name === f.name ? f : new File([f], name, { type: f.type || 'image/png', lastModified: now.getTime() }));
  }
  return out;
}

export function hasFiles(data: DataTransfer | null): boolean {
  return !!data && Array.from(data.types ?? []).includes('Files');
}

export interface Tray {
  files: TrayFile[];
  error: string | null;
  add: (files: File[]) => void;
  remove: (id: number) => void;
  /** Empties the tray (after a send; previews revoked). */
  clear: () => void;
}

export function useTray(limits: Limits, channel: string, channelLabel: string, t: T): Tray {
  const [files, setFiles] = useState<TrayFile[]>([]);
  const [error, setError] = useState<string | null>(null);
  const held = useRef(files);
  held.current = files;
  useEffect(() => () => held.current.forEach((f) => f.preview && URL.revokeObjectURL(f.preview)), []);
  return {
    files,
    error,
    add(added) {
      const { accepted, refused } = checkFiles(held.current.map((x) => x.file), added, limits, channel);
      setError(refused.length ? refused.map((r) => refusalText(r, t, channelLabel)).join(' ') : null);
      if (!accepted.length) return;
      const next = [
        ...held.current,
        ...accepted.map((file) => ({ id: ++seq, file, preview: isPlainImage(file.type) && typeof URL.createObjectURL === 'function' ? URL.createObjectURL(file) : undefined })),
      ];
      held.current = next;
      setFiles(next);
    },
    remove(id) {
      const gone = held.current.find((f) => f.id === id);
      if (gone?.preview) URL.revokeObjectURL(gone.preview);
      const next = held.current.filter((f) => f.id !== id);
      held.current = next;
      setFiles(next);
      setError(null);
    },
    clear() {
      held.current.forEach((f) => f.preview && URL.revokeObjectURL(f.preview));
      held.current = [];
      setFiles([]);
      setError(null);
    },
  };
}

/** The files waiting to be sent, each with a preview or an icon, its size and a remove button. */
export function TrayView({ tray, t }: { tray: Tray; t: T }) {
  if (!tray.files.length && !tray.error) return null;
  return (
    <div class="tray" data-testid="tray">
      {tray.files.length > 0 && (
        <ul class="tray-files">
          {tray.files.map((f) => (
            <li class="tray-file" data-testid="tray-file" data-name={f.file.name}>
              {f.preview ? <img src={f.preview} alt="" class="tray-preview" /> : <span class="tray-icon"><Icon name="file" size={26} /></span>}
              <span class="tray-meta">
                <span class="att-name">{f.file.name}</span>
                <span class="att-size">{humanSize(f.file.size)}</span>
              </span>
              <button type="button" class="tray-remove" data-testid="tray-remove" aria-label={t('removeFile', { a: f.file.name })} title={t('removeFile', { a: f.file.name })} onClick={() => tray.remove(f.id)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {tray.error && (
        <p class="error" role="alert" data-testid="tray-error">
          {tray.error}
        </p>
      )}
    </div>
  );
}

/** The paperclip: a file picker for several files. */
export function AttachButton({ t, disabled, onFiles, hint }: { t: T; disabled: boolean; onFiles: (f: File[]) => void; hint: string }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" class="attach" data-testid="attach" disabled={disabled} aria-label={`${t('attach')} (${hint})`} title={`${t('attach')} — ${hint}`} onClick={() => input.current?.click()}>
        <Icon name="clip" size={20} />
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="file-input"
        onChange={(e) => {
          const el = e.currentTarget as HTMLInputElement;
          onFiles(Array.from(el.files ?? []));
          el.value = '';
        }}
      />
    </>
  );
}
