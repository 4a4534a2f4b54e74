// The signed-in agent in the header: their name with their role, a menu with their e-mail, what
// the role may do, "Change password…" (current + new + again, checked here first; the server's
// refusals shown as said) and "Sign out" (every device: `POST /auth/logout`).

import { useEffect, useRef, useState } from 'preact/hooks';
import { EMPTY_PASSWORD_FORM, MIN_PASSWORD, passwordProblems, saidText, type PasswordForm, type Said } from './account';
import type { Controller } from './controller';
import { useDismiss } from './dismiss';
import type { Key } from './i18n';
import { roleHintKey, roleKey, roleOf } from './roles';
import type { Role } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

/** "Admin", "Supervisor", "Agent" as a small badge. */
export function RoleBadge({ role, t }: { role: Role; t: T }) {
  return (
    <span class={`role-badge role-${role}`} data-testid="role-badge" data-role={role}>
      {t(roleKey(role))}
    </span>
  );
}

/** Re-renders every second while `active` (a lock's countdown). */
export function useTicking(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [active]);
  return now;
}

export function AccountMenu({ ctrl, t, onSignOut, signingOut }: { ctrl: Controller; t: T; onSignOut: () => void; signingOut: boolean }) {
  const [open, setOpen] = useState(false);
  const [dialog, setDialog] = useState(false);
  const box = useRef<HTMLSpanElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const role = roleOf(ctrl.me);
  useDismiss(open, () => setOpen(false), box);
  const label = t('accountMenu', { a: role ? `${ctrl.me.name} (${t(roleKey(role))})` : ctrl.me.name });
  return (
    <span class="account-box" ref={box}>
      <button
        type="button"
        ref={opener}
        class="account"
        data-testid="account"
        aria-haspopup="true"
        aria-expanded={open}
        aria-label={label}
        title={ctrl.me.email}
        onClick={() => setOpen(!open)}
      >
        <span class="me">{ctrl.me.name}</span>
        {role && <RoleBadge role={role} t={t} />}
        <span class="caret" aria-hidden="true">▾</span>
      </button>
      {open && (
        <div class="account-panel" data-testid="account-panel" role="region" aria-label={label}>
          <strong class="account-name">{ctrl.me.name}</strong>
          <span class="account-email" data-testid="account-email">{ctrl.me.email}</span>
          {role && (
            <p class="account-role" data-testid="account-role">
              <RoleBadge role={role} t={t} /> <span class="hint">{t(roleHintKey(role))}</span>
            </p>
          )}
          <hr class="account-sep" />
          <button
            type="button"
            class="linkish"
            data-testid="change-password"
            onClick={() => {
              setOpen(false);
              setDialog(true);
            }}
          >
            {t('changePassword')}
          </button>
          <button type="button" class="linkish" data-testid="logout" title={t('logoutHint')} disabled={signingOut} onClick={onSignOut}>
            {t('logout')}
          </button>
          <span class="hint account-hint">{t('logoutHint')}</span>
        </div>
      )}
      {dialog && (
        <ChangePassword
          t={t}
          submit={(current, next) => ctrl.changePassword(current, next)}
          onClose={() => {
            setDialog(false);
            opener.current?.focus();
          }}
        />
      )}
    </span>
  );
}

/**
 * The change-password dialog. `submit` resolves to null when changed (the dialog then says so and
 * offers Close), else to what to say. The problems found here show once the form was submitted.
 */
export function ChangePassword({ t, submit, onClose }: { t: T; submit: (current: string, next: string) => Promise<Said | null>; onClose: () => void }) {
  const [form, setForm] = useState<PasswordForm>(EMPTY_PASSWORD_FORM);
  const [shown, setShown] = useState(false);
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<Said | null>(null);
  const [done, setDone] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  const now = useTicking(refused?.kind === 'locked' && refused.until !== null);
  useEffect(() => {
    first.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      e.stopPropagation();
      onClose();
    };
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
  }, []);
  const problems = passwordProblems(form);
  const set = (patch: Partial<PasswordForm>) => {
    setForm({ ...form, ...patch });
    setRefused(null);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setShown(true);
    if (problems.length || busy) return;
    setBusy(true);
    setRefused(null);
    const r = await submit(form.current, form.next);
    setBusy(false);
    if (r === null) {
      setDone(true);
      setForm(EMPTY_PASSWORD_FORM);
    } else setRefused(r);
  };
  const bad = (p: string) => shown && problems.includes(p as never);
  const wrongCurrent = refused?.kind === 'text' && refused.key === 'pw_wrongCurrent';
  return (
    <div class="dialog-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="pw-title" data-testid="password-dialog">
        {done ? (
          <div class="pw-done">
            <h2 id="pw-title">{t('pw_title')}</h2>
            <p class="ok-line" role="status" data-testid="password-done">✓ {t('pw_done')}</p>
            <div class="dialog-actions">
              <button type="button" class="primary" data-testid="password-close" onClick={onClose}>{t('close')}</button>
            </div>
          </div>
        ) : (
          <form onSubmit={(e) => void save(e)} noValidate data-testid="password-form">
            <h2 id="pw-title">{t('pw_title')}</h2>
            <p class="hint">{t('pw_hint')}</p>
            <label class="dialog-field">
              {t('pw_current')}
              <input
                ref={first}
                type="password"
                autocomplete="current-password"
                data-testid="pw-current"
                value={form.current}
                aria-invalid={bad('pw_needCurrent') || wrongCurrent}
                onInput={(e) => set({ current: (e.target as HTMLInputElement).value })}
              />
            </label>
            <label class="dialog-field">
              {t('pw_new')}
              <input
                type="password"
                autocomplete="new-password"
                minLength={MIN_PASSWORD}
                data-testid="pw-new"
                value={form.next}
                aria-invalid={bad('pw_tooShort') || bad('pw_same')}
                onInput={(e) => set({ next: (e.target as HTMLInputElement).value })}
              />
            </label>
            <label class="dialog-field">
              {t('pw_confirm')}
              <input
                type="password"
                autocomplete="new-password"
                data-testid="pw-confirm"
                value={form.confirm}
                aria-invalid={bad('pw_mismatch')}
                onInput={(e) => set({ confirm: (e.target as HTMLInputElement).value })}
              />
            </label>
            {shown && problems.length > 0 && (
              <ul class="error faq-problems" role="alert" data-testid="password-problems">
                {problems.map((p) => (
                  <li data-problem={p}>{t(p)}</li>
                ))}
              </ul>
            )}
            {refused && (
              <p class="error" role="alert" data-testid="password-error" data-kind={refused.kind}>
                {saidText(refused, t, now)}
              </p>
            )}
            <div class="dialog-actions">
              <button type="button" data-testid="password-cancel" disabled={busy} onClick={onClose}>{t('cancel')}</button>
              <button type="submit" class="primary" data-testid="password-save" disabled={busy}>{busy ? t('pw_saving') : t('pw_save')}</button>
            </div>
          </form>
        )}
      </div>
    </div>
  );
}
