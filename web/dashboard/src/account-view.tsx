// The signed-in agent in the header: their name with their role, a menu with their e-mail, what
// the role may do, their teams, "Change password…" (current + new + again, checked here first; the server's
// refusals shown as said), "Two-factor sign-in…" (on or off; set up with an authenticator app,
// or turned off) and "Sign out" (every device: `POST /auth/logout`).

import { useEffect, useRef, useState } from 'preact/hooks';
import { EMPTY_PASSWORD_FORM, MIN_PASSWORD, passwordProblems, saidText, type PasswordForm, type Said } from './account';
import type { Controller, TotpStart } from './controller';
import { useDismiss } from './dismiss';
import type { Key } from './i18n';
import { roleHintKey, roleKey, roleOf } from './roles';
import { aboutCode, aboutPassword, codeDigits, codeReady, compactSecret, groupSecret, type TotpSetup } from './totp';
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
  const [dialog, setDialog] = useState<'password' | 'totp' | null>(null);
  const box = useRef<HTMLSpanElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const role = roleOf(ctrl.me);
  /** My teams (an admin changes them on the agents page: `agent.updated` brings them); null: a server without teams. */
  const teams = Array.isArray(ctrl.me.teams) ? ctrl.me.teams : null;
  /** Two-factor sign-in on or off; null: a server without it (no entry). */
  const totp = typeof ctrl.me.totp === 'boolean' ? ctrl.me.totp : null;
  const closeDialog = () => {
    setDialog(null);
    opener.current?.focus();
  };
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
          {teams && (
            <span class="account-teams" data-testid="account-teams">
              {teams.length ? t('account_teams', { a: teams.join(', ') }) : t('account_noTeam')}
            </span>
          )}
          <hr class="account-sep" />
          <button
            type="button"
            class="linkish"
            data-testid="change-password"
            onClick={() => {
              setOpen(false);
              setDialog('password');
            }}
          >
            {t('changePassword')}
          </button>
          {totp !== null && (
            <span class="account-totp">
              <button
                type="button"
                class="linkish"
                data-testid="totp-open"
                aria-haspopup="dialog"
                onClick={() => {
                  setOpen(false);
                  setDialog('totp');
                }}
              >
                {t('totp_menu')}
              </button>
              <span class={totp ? 'totp-state on' : 'totp-state'} data-testid="totp-state" data-on={String(totp)}>
                {totp ? t('totp_stateOn') : t('totp_stateOff')}
              </span>
            </span>
          )}
          {totp === false && role === 'admin' && (
            <span class="hint totp-admin-hint" data-testid="totp-admin-hint">{t('totp_adminHint')}</span>
          )}
          <button type="button" class="linkish" data-testid="logout" title={t('logoutHint')} disabled={signingOut} onClick={onSignOut}>
            {t('logout')}
          </button>
          <span class="hint account-hint">{t('logoutHint')}</span>
        </div>
      )}
      {dialog === 'password' && <ChangePassword t={t} submit={(current, next) => ctrl.changePassword(current, next)} onClose={closeDialog} />}
      {dialog === 'totp' && <TwoFactor t={t} on={totp === true} actions={ctrl} onClose={closeDialog} />}
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

/** What the two-factor dialog asks of the server (the controller does it). */
export interface TotpActions {
  startTotp(password: string): Promise<TotpStart>;
  confirmTotp(code: string): Promise<Said | null>;
  disableTotp(password: string, code: string): Promise<Said | null>;
}

/** A code field: digits only (a letter typed or the space of "123 456" dropped), at most six; the phone's number pad. */
function CodeInput(props: { testid: string; value: string; set: (code: string) => void; invalid: boolean; disabled: boolean; field?: { current: HTMLInputElement | null } }) {
  return (
    <input
      ref={props.field}
      data-testid={props.testid}
      class="totp-code"
      type="text"
      inputMode="numeric"
      autocomplete="one-time-code"
      pattern="[0-9]*"
      maxLength={6}
      spellcheck={false}
      value={props.value}
      disabled={props.disabled}
      aria-invalid={props.invalid}
      onInput={(e) => {
        const field = e.target as HTMLInputElement;
        const clean = codeDigits(field.value);
        field.value = clean;
        props.set(clean);
      }}
    />
  );
}

type TotpPhase = 'start' | 'setup' | 'turnedOn' | 'manage' | 'turnedOff';

/**
 * The two-factor sign-in dialog. Off: what it is and the password, then the key to add to an
 * authenticator app (in blocks of four, with Copy, and its `otpauth://` link) and a code of it to
 * turn it on. On: the password and a current code turn it off. The password is kept in this
 * dialog's state only, and forgotten once checked. Escape, a press outside it or Cancel closes
 * it (not while a request is under way).
 */
export function TwoFactor({ t, on, actions, onClose }: { t: T; on: boolean; actions: TotpActions; onClose: () => void }) {
  const [phase, setPhase] = useState<TotpPhase>(on ? 'manage' : 'start');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [setup, setSetup] = useState<TotpSetup | null>(null);
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<Said | null>(null);
  const [copied, setCopied] = useState<'no' | 'yes' | 'manual'>('no');
  const box = useRef<HTMLDivElement>(null);
  const first = useRef<HTMLInputElement>(null);
  const codeField = useRef<HTMLInputElement>(null);
  const closeButton = useRef<HTMLButtonElement>(null);
  const secretEl = useRef<HTMLElement>(null);
  /** The field to focus once the fields are enabled again (after a refusal). */
  const focusNext = useRef<'password' | 'code' | null>(null);
  const now = useTicking(refused?.kind === 'locked' && refused.until !== null);
  useDismiss(!busy, onClose, box);
  useEffect(() => {
    if (phase === 'turnedOn' || phase === 'turnedOff') closeButton.current?.focus();
    else if (phase === 'setup') codeField.current?.focus();
    else first.current?.focus();
  }, [phase]);
  useEffect(() => {
    if (busy || !focusNext.current) return;
    (focusNext.current === 'code' ? codeField : first).current?.focus();
    focusNext.current = null;
  });

  /** Shows a refusal; a wrong code is cleared (the next one is typed), and the field it is about focused. */
  const say = (said: Said | null) => {
    setRefused(said);
    if (aboutCode(said)) {
      setCode('');
      focusNext.current = 'code';
    } else if (aboutPassword(said)) focusNext.current = 'password';
  };
  /** Sends `run` unless a check here says what is missing first. */
  const send = async (e: Event, missing: Said | null, run: () => Promise<void>) => {
    e.preventDefault();
    if (busy) return;
    if (missing) return say(missing);
    setBusy(true);
    setRefused(null);
    await run();
    setBusy(false);
  };
  const needPassword: Said = { kind: 'text', key: 'pw_needCurrent' };
  const needCode: Said = { kind: 'text', key: 'totp_enterCode' };

  const start = (e: Event) =>
    send(e, password === '' ? needPassword : null, async () => {
      const r = await actions.startTotp(password);
      if (r.ok) {
        setPassword('');
        setSetup(r.setup);
        setCopied('no');
        setPhase('setup');
      } else say(r.said);
    });
  const turnOn = (e: Event) =>
    send(e, codeReady(code) ? null : needCode, async () => {
      const r = await actions.confirmTotp(code);
      if (r === null) {
        setCode('');
        setSetup(null);
        setPhase('turnedOn');
      } else say(r);
    });
  const turnOff = (e: Event) =>
    send(e, password === '' ? needPassword : codeReady(code) ? null : needCode, async () => {
      const r = await actions.disableTotp(password, code);
      if (r === null) {
        setPassword('');
        setCode('');
        setPhase('turnedOff');
      } else say(r);
    });

  /** Selects the key on screen (to copy by hand when the clipboard cannot be written). */
  const selectSecret = () => {
    const el = secretEl.current;
    const sel = typeof window.getSelection === 'function' ? window.getSelection() : null;
    if (!el || !sel) return;
    const range = document.createRange();
    range.selectNodeContents(el);
    sel.removeAllRanges();
    sel.addRange(range);
  };
  const copy = async () => {
    if (!setup) return;
    try {
      await navigator.clipboard.writeText(compactSecret(setup.secret));
      setCopied('yes');
    } catch {
      // No clipboard (a page not served over HTTPS, or refused): the key is selected instead.
      selectSecret();
      setCopied('manual');
    }
  };

  const error = refused && (
    <p class="error" role="alert" data-testid="totp-error" data-kind={refused.kind === 'locked' ? 'locked' : refused.key}>
      {saidText(refused, t, now)}
    </p>
  );
  const passwordField = (testid: string) => (
    <label class="dialog-field">
      {t('totp_password')}
      <input
        ref={first}
        type="password"
        autocomplete="current-password"
        data-testid={testid}
        value={password}
        disabled={busy}
        aria-invalid={aboutPassword(refused)}
        onInput={(e) => {
          setPassword((e.target as HTMLInputElement).value);
          setRefused(null);
        }}
      />
    </label>
  );
  const setCodeTyped = (c: string) => {
    setCode(c);
    if (aboutCode(refused)) setRefused(null);
  };
  const cancel = (
    <button type="button" data-testid="totp-cancel" disabled={busy} onClick={onClose}>
      {t('cancel')}
    </button>
  );
  const done = (testid: string, key: Key, next: Key) => (
    <div class="totp-done">
      <h2 id="totp-title">{t('totp_title')}</h2>
      <p class="ok-line" role="status" data-testid={testid}>
        ✓ {t(key)}
      </p>
      <p class="hint">{t(next)}</p>
      <div class="dialog-actions">
        <button type="button" ref={closeButton} class="primary" data-testid="totp-close" onClick={onClose}>
          {t('close')}
        </button>
      </div>
    </div>
  );

  return (
    <div class="dialog-backdrop">
      <div class="dialog totp-dialog" ref={box} role="dialog" aria-modal="true" aria-labelledby="totp-title" data-testid="totp-dialog" data-phase={phase}>
        {phase === 'start' && (
          <form onSubmit={(e) => void start(e)} noValidate data-testid="totp-start-form">
            <h2 id="totp-title">{t('totp_title')}</h2>
            <p class="hint">{t('totp_intro')}</p>
            <p class="hint">{t('totp_passwordAsk')}</p>
            {passwordField('totp-password')}
            {error}
            <div class="dialog-actions">
              {cancel}
              <button type="submit" class="primary" data-testid="totp-start" disabled={busy}>
                {busy ? t('totp_starting') : t('totp_start')}
              </button>
            </div>
          </form>
        )}
        {phase === 'setup' && setup && (
          <form onSubmit={(e) => void turnOn(e)} noValidate data-testid="totp-setup-form">
            <h2 id="totp-title">{t('totp_title')}</h2>
            <ol class="totp-steps">
              <li>
                <p>{t('totp_step1')}</p>
                <div class="totp-key">
                  <code class="totp-secret" ref={secretEl} data-testid="totp-secret" translate={false}>
                    {groupSecret(setup.secret)}
                  </code>
                  <button type="button" data-testid="totp-copy" onClick={() => void copy()}>
                    {copied === 'yes' ? `✓ ${t('totp_copied')}` : t('totp_copy')}
                  </button>
                </div>
                {copied === 'manual' && (
                  <p class="hint" role="status" data-testid="totp-copy-manual">
                    {t('totp_copyManual')}
                  </p>
                )}
                {setup.otpauthUrl && (
                  <a class="totp-link" href={setup.otpauthUrl} data-testid="totp-link">
                    {t('totp_openApp')}
                  </a>
                )}
              </li>
              <li>
                <p>{t('totp_step2')}</p>
                <label class="dialog-field">
                  {t('totp_appCode')}
                  <CodeInput testid="totp-confirm-code" field={codeField} value={code} set={setCodeTyped} invalid={aboutCode(refused)} disabled={busy} />
                </label>
              </li>
            </ol>
            {error}
            <div class="dialog-actions">
              {cancel}
              <button type="submit" class="primary" data-testid="totp-enable" disabled={busy}>
                {busy ? t('totp_turningOn') : t('totp_turnOn')}
              </button>
            </div>
          </form>
        )}
        {phase === 'turnedOn' && done('totp-on', 'totp_on', 'totp_onNext')}
        {phase === 'manage' && (
          <form onSubmit={(e) => void turnOff(e)} noValidate data-testid="totp-off-form">
            <h2 id="totp-title">{t('totp_title')}</h2>
            <p class="ok-line" data-testid="totp-status">
              ✓ {t('totp_onNow')}
            </p>
            <p class="hint">{t('totp_offAsk')}</p>
            {passwordField('totp-off-password')}
            <label class="dialog-field">
              {t('totp_offCode')}
              <CodeInput testid="totp-off-code" field={codeField} value={code} set={setCodeTyped} invalid={aboutCode(refused)} disabled={busy} />
            </label>
            {error}
            <div class="dialog-actions">
              {cancel}
              <button type="submit" class="danger" data-testid="totp-disable" disabled={busy}>
                {busy ? t('totp_turningOff') : t('totp_turnOff')}
              </button>
            </div>
          </form>
        )}
        {phase === 'turnedOff' && done('totp-off', 'totp_off', 'totp_offNext')}
      </div>
    </div>
  );
}
