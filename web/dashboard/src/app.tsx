// The view. Every piece of customer text is rendered as a JSX text child, which Preact puts
// in the page as a text node: HTML in a message is shown literally and never runs. There is
// no innerHTML / dangerouslySetInnerHTML anywhere in this app.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { RuntimeConfig } from './config';
import { Api, ApiError } from './api';
import { Controller, type Session } from './controller';
import { loadDraft, saveDraft } from './drafts';
import { conversationChannels, contactName, identityRows, mergeCandidates, mergeErrorKey, pathLabel, plainAttributes, seenBy } from './channels';
import { CHANNEL_ICON, initialLang, translate, type Key, type Lang } from './i18n';
import { FILES_LOST, clientIdOf, type Pending } from './outbox';
import { Attachments, Buttons, EditHistory, Edited, Icon, MessageContext, type AttachmentEnv } from './attachment-view';
import { AttachButton, TrayView, filesFromPaste, hasFiles, limitText, useTray } from './composer';
import { humanSize } from './attachments';
import { emailHeads, replyAddress, type EmailHead } from './email';
import { EmailAddress, EmailAutomatic, EmailExtras, EmailSubject } from './email-view';
import { TABS, unreadTotal, visibleList, waitingMs, type Tab } from './state';
import { isHeld, wantsPreview } from './translation';
import { ConversationLanguage, InboundText, MyLanguages, OutboundTranslation, QuotaNotice, TranslationPreviewView, type HeldActions } from './translation-view';
import type { Agent, AgentStatus, Bot, Contact, ContactWithConversations, ConversationView, Message } from './types';
import { AiBadge, AiTools, SummaryCard, statusLabel } from './ai-view';
import { KnowledgeBase } from './knowledge-view';
import { withSuggestion } from './ai';
import { ModeToggle, PickerList, type ComposeMode, type PickerOption } from './compose-view';
import { insertAt, pickerKey, triggerAt } from './picker';
import { filterCanned, fillPlaceholders } from './canned';
import { matchAgents, mentionHandle, mentionSegments, mentionedAgents } from './mentions';
import { ConversationTools, ListMarks } from './triage-view';
import { Bell, Toasts } from './notify-view';
import { CannedManager } from './canned-view';
import { Reports } from './reports-view';
import { RulesView } from './rules-view';
import { TeamsView } from './teams-view';
import { effectiveStatus } from './state';
import { loginNoticeKey, needsTotp, resumeRetryMs, resumeSession, saidText, signInError, type Resumed, type Said } from './account';
import { codeDigits, codeReady } from './totp';
import { AccountMenu, useTicking } from './account-view';
import { AgentsView } from './agents-view';
import { denyKey, transferTargets } from './roles';
import { ContactData, ErasedPane } from './erasure-view';

type T = (key: Key, vars?: Record<string, string>) => string;

const KNOWN_CHANNELS = ['web', 'telegram', 'email'];
/** A channel's name in the UI language ("Website", "Telegram", "E-mail"); an unknown one as sent. */
function chLabel(t: T, channel: string): string {
  return KNOWN_CHANNELS.includes(channel) ? t(`ch_${channel}` as Key) : channel;
}

/** Where older builds kept the token (sessionStorage): removed at start, so nothing of it stays. */
const LEGACY_SESSION_KEY = 'omnidesk.session';

export function App({ cfg }: { cfg: RuntimeConfig }) {
  const [session, setSession] = useState<Session | null>(null);
  /** Whether the sign-in this browser holds (the refresh cookie) is still being looked for. */
  const [resuming, setResuming] = useState(true);
  /** Why the sign-in page shows: the code of the 401 that ended the session, `signed_out`, or null. */
  const [ended, setEnded] = useState<string | null>(null);
  const [lang, setLangState] = useState<Lang>(initialLang);
  const t: T = (key, vars) => translate(lang, key, vars);
  const setLang = (l: Lang) => {
    localStorage.setItem('omnidesk.lang', l);
    setLangState(l);
  };
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);

  useEffect(() => {
    try {
      sessionStorage.removeItem(LEGACY_SESSION_KEY);
    } catch {
      /* storage blocked: nothing was kept there either */
    }
  }, []);

  if (resuming) {
    return (
      <Resume
        cfg={cfg}
        t={t}
        onDone={(r) => {
          if (r.kind === 'in') setSession(r.session);
          else setEnded(r.ended);
          setResuming(false);
        }}
      />
    );
  }
  if (!session) {
    return (
      <Login
        cfg={cfg}
        t={t}
        lang={lang}
        setLang={setLang}
        ended={ended}
        onLogin={(s) => {
          sessionStorage.removeItem('omnidesk.tab'); // a sign-in opens where the work is (Controller.chooseTab)
          setEnded(null);
          setSession(s);
        }}
      />
    );
  }
  return (
    <Desk
      key={session.token}
      cfg={cfg}
      session={session}
      t={t}
      lang={lang}
      setLang={setLang}
      onLogout={(code) => {
        setEnded(code);
        setSession(null);
      }}
    />
  );
}

/**
 * The start: the sign-in this browser holds is resumed with the refresh cookie
 * (`POST /auth/refresh`) while a neutral "Signing in…" shows (no sign-in form that would flash
 * by). Unreachable, it says so and tries again by itself, further apart each time up to 30 s, at
 * once when the browser is back online or on *Retry now*.
 */
export function Resume({ cfg, t, onDone }: { cfg: RuntimeConfig; t: T; onDone: (r: Exclude<Resumed, { kind: 'unreachable' }>) => void }) {
  /** When the next attempt goes (ms); null while one is under way. */
  const [retryAt, setRetryAt] = useState<number | null>(null);
  const [attempt, setAttempt] = useState(0);
  const failures = useRef(0);
  const now = useTicking(retryAt !== null);
  const done = useRef(onDone);
  done.current = onDone;
  useEffect(() => {
    let live = true;
    setRetryAt(null);
    void resumeSession(new Api(cfg, () => {})).then((r) => {
      if (!live) return;
      if (r.kind !== 'unreachable') return done.current(r);
      failures.current++;
      setRetryAt(Date.now() + resumeRetryMs(failures.current));
    });
    return () => {
      live = false;
    };
  }, [attempt]);
  useEffect(() => {
    if (retryAt === null) return;
    const again = () => setAttempt((n) => n + 1);
    const id = setTimeout(again, Math.max(0, retryAt - Date.now()));
    window.addEventListener('online', again);
    return () => {
      clearTimeout(id);
      window.removeEventListener('online', again);
    };
  }, [retryAt]);
  if (failures.current === 0) {
    return (
      <div class="login-page">
        <p class="splash" role="status" data-testid="resuming">
          <strong>{t('appName')}</strong>
          <span>{t('signingIn')}</span>
        </p>
      </div>
    );
  }
  const secs = retryAt === null ? 0 : Math.max(1, Math.ceil((retryAt - now) / 1000));
  return (
    <div class="login-page">
      <div class="splash resume-down" role="alert" data-testid="unreachable">
        <strong>{t('appName')}</strong>
        <span>{t('resumeUnreachable')}</span>
        <span class="hint" data-testid="unreachable-retry-in">{retryAt === null ? t('resumeRetrying') : t('resumeRetryIn', { a: String(secs) })}</span>
        <button type="button" data-testid="unreachable-retry" disabled={retryAt === null} onClick={() => setAttempt((n) => n + 1)}>
          {t('retryNow')}
        </button>
      </div>
    </div>
  );
}

function LangSwitch({ lang, setLang }: { lang: Lang; setLang: (l: Lang) => void }) {
  return (
    <select data-testid="lang" class="lang" value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)} aria-label="Language / 语言">
      <option value="en">English</option>
      <option value="zh">中文</option>
    </select>
  );
}

/**
 * The sign-in page. An account with two-factor sign-in on is refused with 401 `totp_required`
 * once the password was right: the page then asks for the authenticator app's code and sends the
 * same e-mail and password with it (`totp`). The password is kept in this component's state only
 * (never in any storage), and *Back* forgets it.
 */
export function Login(props: { cfg: RuntimeConfig; t: T; lang: Lang; setLang: (l: Lang) => void; ended: string | null; onLogin: (s: Session) => void }) {
  const { t } = props;
  const [email, setEmail] = useState(localStorage.getItem('omnidesk.lastEmail') ?? '');
  const [password, setPassword] = useState('');
  /** `code`: the password was right and the account asks for a two-factor code. */
  const [step, setStep] = useState<'password' | 'code'>('password');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Said | null>(null);
  const codeField = useRef<HTMLInputElement>(null);
  const passwordField = useRef<HTMLInputElement>(null);
  const locked = error?.kind === 'locked';
  const now = useTicking(locked && error.until !== null);
  const notice = loginNoticeKey(props.ended);
  useEffect(() => {
    // `autofocus` is not honoured for a field added after the page loaded.
    if (step === 'code') codeField.current?.focus();
  }, [step]);
  const back = () => {
    setStep('password');
    setPassword('');
    setCode('');
    setError(null);
    setTimeout(() => passwordField.current?.focus(), 0);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const second = step === 'code';
    if (second && !codeReady(code)) {
      setError({ kind: 'text', key: 'totp_enterCode' });
      codeField.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const api = new Api(props.cfg, () => {});
      const r = await api.login(email.trim(), password, second ? code : undefined);
      localStorage.setItem('omnidesk.lastEmail', email.trim());
      props.onLogin(api.sessionOf(r));
    } catch (err) {
      if (!second && needsTotp(err)) {
        setCode('');
        setStep('code');
      } else if (second && err instanceof ApiError && err.status === 401 && err.code !== 'bad_totp' && err.code !== 'totp_required') {
        // The password is no longer right (changed meanwhile): start over.
        setStep('password');
        setPassword('');
        setCode('');
        setError(signInError(err));
      } else {
        if (second) {
          setCode('');
          codeField.current?.focus();
        }
        setError(signInError(err));
      }
    } finally {
      setBusy(false);
    }
  };
  const errorLine = error && (
    <p class={locked ? 'error login-error locked' : 'error login-error'} role="alert" data-testid="login-error" data-kind={error.kind === 'locked' ? 'locked' : error.key}>
      {locked && <Icon name="lock" size={15} />}
      <span>{saidText(error, t, now)}</span>
    </p>
  );
  return (
    <div class="login-page">
      <form class="login" onSubmit={submit} data-testid="login-form" data-step={step} noValidate={step === 'code'}>
        <div class="login-head">
          <h1>{t('appName')}</h1>
          <LangSwitch lang={props.lang} setLang={props.setLang} />
        </div>
        {step === 'password' ? (
          <>
            {notice && !error && (
              <p class={props.ended === 'signed_out' ? 'notice ok' : 'notice'} role="status" data-testid={props.ended === 'signed_out' ? 'signed-out' : 'session-expired'} data-code={props.ended ?? undefined}>
                <span class="notice-main">{t(notice)}</span>
                {props.ended === 'session_ended' && <span class="notice-why">{t('sessionEndedWhy')}</span>}
              </p>
            )}
            <label key="email">
              {t('email')}
              <input data-testid="email" type="email" autocomplete="username" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} required />
            </label>
            <label key="password">
              {t('password')}
              <input ref={passwordField} data-testid="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} required />
            </label>
            {errorLine}
            <button key="login" data-testid="login" type="submit" disabled={busy}>{busy ? t('signingIn') : t('signIn')}</button>
          </>
        ) : (
          <>
            <div class="login-step" data-testid="totp-step">
              <h2 id="totp-step-title">{t('totp_stepTitle')}</h2>
              <p class="hint" id="totp-step-hint">{t('totp_stepHint', { a: email.trim() })}</p>
            </div>
            <label key="totp">
              {t('totp_code')}
              <input
                ref={codeField}
                data-testid="totp-code"
                class="totp-code"
                type="text"
                inputMode="numeric"
                autocomplete="one-time-code"
                pattern="[0-9]*"
                maxLength={6}
                autoFocus
                spellcheck={false}
                aria-describedby="totp-step-hint"
                aria-invalid={error?.kind === 'text' && (error.key === 'totp_badSignIn' || error.key === 'totp_enterCode')}
                value={code}
                onInput={(e) => {
                  const field = e.target as HTMLInputElement;
                  const clean = codeDigits(field.value);
                  field.value = clean; // a letter typed is dropped even when the state stays the same
                  setCode(clean);
                }}
              />
            </label>
            {errorLine}
            <button key="verify" data-testid="totp-verify" type="submit" disabled={busy}>{busy ? t('totp_verifying') : t('totp_verify')}</button>
            <button key="back" type="button" class="linkish login-back" data-testid="totp-back" disabled={busy} onClick={back}>
              <span aria-hidden="true">← </span>
              {t('totp_back')}
            </button>
          </>
        )}
      </form>
    </div>
  );
}

function beep(): void {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.1;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.2);
  } catch {
    /* no audio */
  }
}

function useController(cfg: RuntimeConfig, session: Session, onLogout: (code: string | null) => void, notifyRef: { current: boolean }, t: T) {
  const ctrlRef = useRef<Controller | null>(null);
  const ctrl = useMemo(
    () =>
      (ctrlRef.current = new Controller(cfg, session, {
        onLoggedOut: (code) => onLogout(code),
        onAssignedToMe: (_id, name) => {
          if (!notifyRef.current) return;
          beep();
          if ('Notification' in window && Notification.permission === 'granted') {
            new Notification(t('assignedToYou'), { body: name }); // the OS shows it as text
          }
        },
        onNotification: (n, contact) => {
          if (!notifyRef.current) return;
          beep();
          if ('Notification' in window && Notification.permission === 'granted') {
            const d = new Notification(t('mentionedYou', { a: n.by_name, b: contact ?? t('aConversation') }), { body: n.text, tag: n.id });
            d.onclick = () => {
              window.focus();
              void ctrlRef.current?.openNotification(n.id);
              d.close();
            };
          }
        },
      })),
    [],
  );
  const [, setTick] = useState(0);
  useEffect(() => {
    const off = ctrl.subscribe(() => setTick((n) => n + 1));
    ctrl.start();
    return () => {
      off();
      ctrl.stop();
    };
  }, [ctrl]);
  return ctrl;
}

function Desk(props: { cfg: RuntimeConfig; session: Session; t: T; lang: Lang; setLang: (l: Lang) => void; onLogout: (code: string | null) => void }) {
  const { t } = props;
  const [notify, setNotify] = useState(localStorage.getItem('omnidesk.notify') === '1');
  const notifyRef = useRef(notify);
  notifyRef.current = notify;
  const ctrl = useController(props.cfg, props.session, props.onLogout, notifyRef, t);
  const [signingOut, setSigningOut] = useState(false);
  const signOut = async () => {
    if (!ctrl.mayLeave()) return;
    setSigningOut(true);
    await ctrl.logout();
    props.onLogout('signed_out');
  };
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(id);
  }, []);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const list = visibleList(ctrl.state, ctrl.tab);
  const listRef = useRef(list);
  listRef.current = list;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing = !!target && (target.tagName === 'TEXTAREA' || target.tagName === 'INPUT' || target.tagName === 'SELECT');
      if (e.altKey && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
        e.preventDefault();
        ctrl.step(e.key === 'ArrowDown' ? 1 : -1, listRef.current);
      } else if (!typing && !e.ctrlKey && !e.metaKey && !e.altKey && (e.key === 'j' || e.key === 'k')) {
        e.preventDefault();
        ctrl.step(e.key === 'j' ? 1 : -1, listRef.current);
      } else if (!typing && e.key === '/') {
        e.preventDefault();
        composerRef.current?.focus();
      } else if (typing && e.key === 'Escape') {
        target?.blur();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [ctrl]);

  const toggleNotify = async () => {
    const next = !notify;
    if (next && 'Notification' in window && Notification.permission === 'default') {
      try {
        await Notification.requestPermission();
      } catch {
        /* sound still works */
      }
    }
    localStorage.setItem('omnidesk.notify', next ? '1' : '0');
    setNotify(next);
  };

  const open = ctrl.openId ? ctrl.state.conversations[ctrl.openId] : undefined;
  const agentName = (id: string | null | undefined) => (id === ctrl.me.id ? t('you') : ctrl.agents.find((a) => a.id === id)?.name ?? id ?? '?');

  return (
    <div class="desk">
      <header class="top">
        <strong class="brand">{t('appName')}</strong>
        <nav class="views" aria-label={t('appName')}>
          <button data-testid="nav-conversations" aria-current={ctrl.view === 'conversations' ? 'page' : undefined} onClick={() => ctrl.showView('conversations')}>
            {t('nav_conversations')}
          </button>
          {ctrl.ai && (
            <button data-testid="nav-knowledge" aria-current={ctrl.view === 'knowledge' ? 'page' : undefined} onClick={() => ctrl.showView('knowledge')}>
              {t('nav_knowledge')}
            </button>
          )}
          <button data-testid="nav-canned" aria-current={ctrl.view === 'canned' ? 'page' : undefined} onClick={() => ctrl.showView('canned')}>
            {t('nav_canned')}
          </button>
          {ctrl.mayView('reports') && (
            <button data-testid="nav-reports" aria-current={ctrl.view === 'reports' ? 'page' : undefined} onClick={() => ctrl.showView('reports')}>
              {t('nav_reports')}
            </button>
          )}
          <button data-testid="nav-rules" aria-current={ctrl.view === 'rules' ? 'page' : undefined} onClick={() => ctrl.showView('rules')}>
            {t('nav_rules')}
          </button>
          <button data-testid="nav-teams" aria-current={ctrl.view === 'teams' ? 'page' : undefined} onClick={() => ctrl.showView('teams')}>
            {t('nav_teams')}
          </button>
          {ctrl.mayView('agents') && (
            <button data-testid="nav-agents" aria-current={ctrl.view === 'agents' ? 'page' : undefined} onClick={() => ctrl.showView('agents')}>
              {t('nav_agents')}
            </button>
          )}
        </nav>
        <span class={`link link-${ctrl.link}`} data-testid="link" data-state={ctrl.link} role="status">
          <span class="dot" /> <span class="link-text">{t(`link_${ctrl.link}` as Key)}</span>
        </span>
        <span class="spacer" />
        <MyStatus ctrl={ctrl} t={t} />
        <Bell ctrl={ctrl} t={t} />
        <label class="notify" title={t('notifications')}>
          <input type="checkbox" checked={notify} onChange={() => void toggleNotify()} data-testid="notify" /> <span class="notify-text">{t('notifications')}</span>
        </label>
        <MyLanguages me={ctrl.me} setup={ctrl.translation} t={t} onSave={(language, reads) => ctrl.saveLanguages(language, reads)} />
        <LangSwitch lang={props.lang} setLang={props.setLang} />
        <AccountMenu ctrl={ctrl} t={t} signingOut={signingOut} onSignOut={() => void signOut()} />
      </header>
      {ctrl.error && (
        <div class="error-bar" role="alert">
          {t('error')}: {ctrl.error} <button onClick={() => ctrl.clearError()}>×</button>
        </div>
      )}
      <Toasts ctrl={ctrl} t={t} />
      {ctrl.view === 'knowledge' && ctrl.ai ? (
        <main class="kb-main">
          <KnowledgeBase ctrl={ctrl} t={t} />
        </main>
      ) : ctrl.view === 'canned' ? (
        <main class="kb-main">
          <CannedManager ctrl={ctrl} t={t} />
        </main>
      ) : ctrl.view === 'reports' && ctrl.mayView('reports') ? (
        <main class="kb-main">
          <Reports ctrl={ctrl} t={t} />
        </main>
      ) : ctrl.view === 'rules' ? (
        <main class="kb-main">
          <RulesView ctrl={ctrl} t={t} />
        </main>
      ) : ctrl.view === 'teams' ? (
        <main class="kb-main">
          <TeamsView ctrl={ctrl} t={t} />
        </main>
      ) : ctrl.view === 'agents' && ctrl.mayView('agents') ? (
        <main class="kb-main">
          <AgentsView ctrl={ctrl} t={t} />
        </main>
      ) : (
      <main class={open || ctrl.erased ? 'cols has-open' : 'cols'}>
        <ConversationList ctrl={ctrl} list={list} t={t} now={now} />
        {open ? (
          <ConversationPane key={open.id} ctrl={ctrl} conv={open} t={t} agentName={agentName} composerRef={composerRef} />
        ) : ctrl.erased ? (
          <ErasedPane ctrl={ctrl} t={t} />
        ) : (
          <section class="pane empty">
            <p>{t('pickConversation')}</p>
            <p class="hint">{t('shortcuts')}</p>
          </section>
        )}
        {open && <Profile ctrl={ctrl} conv={open} t={t} />}
      </main>
      )}
    </div>
  );
}

/**
 * My status: what I am in effect (online while this dashboard is connected, unless I chose busy
 * or offline). Choosing Online clears the choice.
 */
export function MyStatus({ ctrl, t }: { ctrl: Controller; t: T }) {
  const status = effectiveStatus(ctrl.me);
  const chosen = ctrl.me.chosen_status === 'busy' || ctrl.me.chosen_status === 'offline';
  const hint = chosen ? t('status_chosen', { a: t(`status_${status}` as Key) }) : t('status_followsDashboard');
  return (
    <label class="mystatus" title={hint}>
      <span class={`presence-dot p-${status}`} aria-hidden="true" />
      <span class="sr-only">{t('myStatus')} </span>
      <select data-testid="my-status" data-chosen={chosen ? 'true' : 'false'} value={status} aria-description={hint} onChange={(e) => void ctrl.setStatus((e.target as HTMLSelectElement).value as AgentStatus)}>
        {(['online', 'busy', 'offline'] as const).map((s) => (
          <option value={s}>{t(`status_${s}` as Key)}</option>
        ))}
      </select>
    </label>
  );
}

function formatWait(ms: number): string {
  const m = Math.floor(ms / 60_000);
  if (m < 1) return '<1m';
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d`;
}

function formatTime(iso: string, now: number): string {
  const d = new Date(iso);
  const sameDay = new Date(now).toDateString() === d.toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString();
}

export function ConversationList({ ctrl, list, t, now }: { ctrl: Controller; list: ConversationView[]; t: T; now: number }) {
  const onScroll = (e: Event) => {
    const el = e.currentTarget as HTMLElement;
    if (el.scrollTop + el.clientHeight >= el.scrollHeight - 80) void ctrl.loadTab(ctrl.tab, false);
  };
  const cursor = ctrl.state.cursors[ctrl.tab];
  return (
    <nav class="list">
      <div class="tabs" role="tablist">
        {TABS.map((tab: Tab) => {
          const unread = tab === 'resolved' ? 0 : unreadTotal(ctrl.state, tab);
          return (
            <button role="tab" aria-selected={ctrl.tab === tab} class={ctrl.tab === tab ? 'tab active' : 'tab'} data-testid={`tab-${tab}`} onClick={() => void ctrl.selectTab(tab)}>
              {t(`tab_${tab}` as Key)}
              {unread > 0 && <span class="badge">{unread}</span>}
            </button>
          );
        })}
      </div>
      <ul class="items" onScroll={onScroll} data-testid="conversation-list">
        {list.length === 0 && !ctrl.loadingList && <li class="none">{t('noConversations')}</li>}
        {list.map((c) => {
          const wait = waitingMs(c, now);
          return (
            <li
              key={c.id}
              data-testid="conversation-item"
              data-id={c.id}
              class={c.id === ctrl.openId ? 'item open' : 'item'}
              onClick={() => void ctrl.open(c.id)}
            >
              <span
                class={`chan chan-${c.channel}`}
                data-testid="conversation-channel"
                data-channel={c.channel}
                title={pathLabel(conversationChannels(c), (x) => chLabel(t, x))}
                aria-label={chLabel(t, c.channel)}
              >
                {CHANNEL_ICON[c.channel] ?? '?'}
              </span>
              <span class="who">
                <span class="name">
                  {c.contact.display_name}
                  <ListMarks conv={c} t={t} now={now} />
                  {c.status === 'bot' && (
                    <span class="status s-bot" data-testid="conversation-item-status" data-status="bot">
                      {statusLabel('bot', ctrl.ai, t)}
                    </span>
                  )}
                </span>
                <span class="preview" data-testid="preview" data-author={c.last_message?.author_kind}>
                  {c.last_message?.author_kind === 'ai' && <AiBadge t={t} />}
                  {c.last_message?.text ?? ''}
                </span>
              </span>
              <span class="meta">
                <span class="time">{formatTime(c.last_activity_at, now)}</span>
                {wait !== null && <span class="wait" data-testid="waiting">{t('waiting')} {formatWait(wait)}</span>}
                {c.unread_count > 0 && <span class="badge" data-testid="unread">{c.unread_count}</span>}
              </span>
            </li>
          );
        })}
        {ctrl.loadingList && <li class="none">{t('loadingMore')}</li>}
        {!ctrl.loadingList && cursor.next && (
          <li class="none">
            <button onClick={() => void ctrl.loadTab(ctrl.tab, false)}>{t('loadingMore')}</button>
          </li>
        )}
      </ul>
    </nav>
  );
}

function eventText(m: Message, t: T, agentName: (id: string | null) => string, nameOfContact: (id: string) => string): string {
  const e = m.event;
  if (!e) return m.text;
  switch (e.event) {
    case 'assigned':
      return t('ev_assigned', { a: agentName(e.agent) });
    case 'transferred':
      return t('ev_transferred', { a: agentName(e.from), b: agentName(e.to) });
    case 'unassigned':
      return t('ev_unassigned');
    case 'resolved':
      return t('ev_resolved');
    case 'reopened':
      return t('ev_reopened');
    case 'channel_switched':
      return pathLabel([e.path.from, e.path.to], (x) => chLabel(t, x));
    case 'contact_unreachable':
      return e.channel === 'email' ? t('ev_unreachable_email', { b: e.reason }) : t('ev_unreachable', { a: chLabel(t, e.channel), b: e.reason });
    case 'channel_unlinked':
      return t('ev_unlinked', { a: chLabel(t, e.channel) });
    case 'handed_over':
      return e.reason ? t('ev_handedOver', { a: e.reason }) : t('ev_handedOverNoReason');
    case 'handed_back':
      return e.by ? t('ev_handedBack', { a: agentName(e.by) }) : t('ev_handedBackNoAgent');
    case 'notice':
      return e.text || m.text;
    case 'contacts_merged':
      return e.by
        ? t('ev_merged', { a: nameOfContact(e.from), b: nameOfContact(e.into), c: agentName(e.by) })
        : t('ev_merged_proof', { a: nameOfContact(e.from), b: nameOfContact(e.into) });
    default:
      return m.text;
  }
}

function ChannelBadge({ channel, t }: { channel: string; t: T }) {
  return (
    <span class={`chan-badge chan-${channel}`} data-testid="channel-badge" data-channel={channel} title={chLabel(t, channel)}>
      {CHANNEL_ICON[channel] ? `${CHANNEL_ICON[channel]} ` : ''}
      {chLabel(t, channel)}
    </span>
  );
}

/**
 * The bot a Telegram message came through, named when the deployment has several (one bot:
 * nothing to tell apart).
 */
export function ViaBot({ m, bots, t }: { m: Message; bots: Bot[]; t: T }) {
  const ref = m.channel_ref;
  if (bots.length < 2 || !ref || ref.kind !== 'telegram' || ref.bot_id == null) return null;
  const id = String(ref.bot_id);
  const bot = bots.find((b) => b.id === id);
  const name = bot?.username ? `@${bot.username}` : id;
  return (
    <span class="via-bot" data-testid="via-bot" data-bot={id} title={t('viaBot', { a: name })}>
      {t('viaBot', { a: name })}
    </span>
  );
}

function MessageView(props: {
  m: Message;
  t: T;
  agentName: (id: string | null) => string;
  contactName: string;
  nameOfContact: (id: string) => string;
  /** Until when the customer has read the conversation (their widget's receipt). */
  readAt: string | null;
  env: AttachmentEnv;
  /** An e-mail's subject and address line, where they start or change. */
  emailHead?: EmailHead;
  loadHtml: (messageId: string) => Promise<string>;
  /** The signed-in agent: which languages they read. */
  reader: Pick<Agent, 'language' | 'languages'>;
  /** A reply held after its translation failed: send it untranslated, or translate again. */
  held: HeldActions;
  /** The agents (to mark a note's @mentions). */
  agents?: Agent[];
  /** The deployment's Telegram bots (to name the one a message came through). */
  bots?: Bot[];
}) {
  const { m, t, agentName, contactName } = props;
  const [edits, setEdits] = useState(false);
  if (m.author.kind === 'system') {
    return (
      <li class={`system ev-${m.event?.event ?? 'other'}`} data-testid="system-event" data-event={m.event?.event}>
        {m.event?.event === 'handed_over' && <span class="handover-icon" aria-hidden="true">⇄ </span>}
        <ChannelBadge channel={m.channel} t={t} /> {eventText(m, t, agentName, props.nameOfContact)}
        <time>{formatTime(m.created_at, Date.now())}</time>
      </li>
    );
  }
  const who =
    m.author.kind === 'contact' ? contactName : m.author.kind === 'agent' ? agentName(m.author.id) : m.author.kind === 'bot' ? t('author_bot') : t('author_ai');
  const outbound = m.direction === 'outbound';
  const held = isHeld(m);
  const note = m.internal === true;
  // An agent's private note: its own look (never like a reply the customer saw), @mentions marked.
  const privateNote = note && m.author.kind === 'agent';
  const ai = m.author.kind === 'ai';
  const cls = `msg ${outbound ? 'out' : 'in'}${ai ? ' ai' : ''}${note ? ' note' : ''}${privateNote ? ' private-note' : ''}`;
  return (
    <li class={cls} data-testid="message" data-id={m.id} data-status={m.delivery.status} data-author={m.author.kind} data-internal={note ? 'true' : undefined} data-note={privateNote ? 'private' : undefined}>
      {note && (
        <div class="note-label" data-testid="internal-note">
          {privateNote ? <><Icon name="lock" size={12} /> {t('privateNote')}</> : t('internalNote')}
        </div>
      )}
      <div class="msg-head">
        <ChannelBadge channel={m.channel} t={t} />
        <ViaBot m={m} bots={props.bots ?? []} t={t} />
        {ai ? <AiBadge t={t} /> : <span class="author">{who}</span>}
        <EmailAddress head={props.emailHead} t={t} />
        <time>{formatTime(m.created_at, Date.now())}</time>
        <Edited m={m} t={t} open={edits} toggle={() => setEdits(!edits)} />
      </div>
      <EmailSubject head={props.emailHead} t={t} />
      <EmailAutomatic m={m} t={t} />
      <MessageContext m={m} t={t} />
      {privateNote ? (
        <div class="text" data-testid="message-text">
          {mentionSegments(m.text, props.agents ?? []).map((p) => (p.mention ? <mark class="mention">{p.text}</mark> : p.text))}
        </div>
      ) : outbound ? (
        <>
          {m.text && <div class="text" data-testid="message-text">{m.text}</div>}
          <OutboundTranslation m={m} t={t} actions={props.held} />
        </>
      ) : (
        <InboundText m={m} reader={props.reader} t={t} />
      )}
      <EmailExtras m={m} t={t} loadHtml={props.loadHtml} />
      {edits && <EditHistory m={m} t={t} />}
      <Attachments m={m} env={props.env} />
      <Buttons m={m} />
      {outbound && !note && held && (
        <div class="delivery d-held" data-testid="delivery" data-held="true">
          {t('d_held')}
        </div>
      )}
      {outbound && !note && !held && (
        <div class={`delivery d-${m.delivery.status}`} data-testid="delivery" data-seen={seenBy(m, props.readAt) ? 'true' : undefined}>
          {seenBy(m, props.readAt) ? t('d_seen') : t(`d_${m.delivery.status}` as Key)}
          {m.delivery.status === 'failed' && m.delivery.reason ? `: ${m.delivery.reason}` : ''}
        </div>
      )}
    </li>
  );
}

function PendingView({ p, t, ctrl }: { p: Pending; t: T; ctrl: Controller }) {
  const progress = ctrl.progress[p.clientId];
  const lost = p.error === FILES_LOST;
  const sending = p.state === 'sending' && p.files?.length
    ? progress !== undefined && progress < 1
      ? t('uploading', { a: String(Math.round(progress * 100)) })
      : t('d_sending')
    : t('d_sending');
  return (
    <li class="msg out pending" data-testid="pending" data-state={p.state}>
      {p.text && <div class="text">{p.text}</div>}
      {p.files?.length ? (
        <ul class="pending-files" data-testid="pending-files">
          {p.files.map((f) => (
            <li>
              <Icon name="file" size={14} /> <span class="att-name">{f.name}</span> <span class="att-size">{humanSize(f.size)}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {p.state === 'sending' && progress !== undefined && (
        <progress class="upload-progress" data-testid="upload-progress" max={1} value={progress} aria-label={sending} />
      )}
      <div class={`delivery d-${p.state}`} data-testid="pending-status">
        {p.state === 'failed' ? `${t('d_failed')}: ${lost ? t('filesLost') : p.error ?? ''}` : p.state === 'sending' ? sending : t('d_queued')}
        {p.state === 'failed' && (
          <>
            {' '}
            {!lost && <button onClick={() => ctrl.retrySend(p.clientId)}>{t('retry')}</button>}
            <button onClick={() => ctrl.outbox.discard(p.clientId)}>{t('discard')}</button>
          </>
        )}
      </div>
    </li>
  );
}

export function ConversationPane(props: { ctrl: Controller; conv: ConversationView; t: T; agentName: (id: string | null) => string; composerRef: { current: HTMLTextAreaElement | null } }) {
  const { ctrl, conv, t } = props;
  const messages = ctrl.state.messages[conv.id] ?? [];
  const known = new Set(messages.map(clientIdOf).filter(Boolean));
  const pending = ctrl.outbox.of(conv.id).filter((p) => !known.has(p.clientId));
  const [draft, setDraft] = useState(() => loadDraft(localStorage, conv.id));
  const timelineRef = useRef<HTMLUListElement>(null);
  const count = messages.length + pending.length;
  useEffect(() => {
    const el = timelineRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [count]);

  const draftRef = useRef(draft);
  draftRef.current = draft;
  // Reply or private note: each has its own draft (the note's under `note.<id>`).
  const [mode, setModeState] = useState<ComposeMode>('reply');
  const [noteDraft, setNoteDraft] = useState(() => loadDraft(localStorage, `note.${conv.id}`));
  const [noteStatus, setNoteStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const [noteBusy, setNoteBusy] = useState(false);
  const note = mode === 'note';
  const text = note ? noteDraft : draft;
  const setText = (v: string) => {
    if (note) {
      setNoteDraft(v);
      saveDraft(localStorage, `note.${conv.id}`, v);
    } else {
      draftRef.current = v;
      setDraft(v);
      saveDraft(localStorage, conv.id, v);
    }
  };
  const setMode = (m: ComposeMode) => {
    setModeState(m);
    setNoteStatus(null);
    props.composerRef.current?.focus();
  };

  // The `/` (saved replies) and `@` (agents, in a note) pickers.
  const [caret, setCaret] = useState(0);
  const [pickIndex, setPickIndex] = useState(0);
  const [dismissed, setDismissed] = useState<string | null>(null);
  const pendingCaret = useRef<number | null>(null);
  const mention = note ? triggerAt(text, caret, '@') : null;
  const slash = mention ? null : triggerAt(text, caret, '/');
  const trig = mention ?? slash;
  const pickKind: 'canned' | 'mention' | null = mention ? 'mention' : slash && !ctrl.cannedMissing ? 'canned' : null;
  const trigId = trig ? `${pickKind}:${trig.start}` : null;
  const pickerOpen = pickKind !== null && trigId !== dismissed;
  const fill = { customer_name: conv.contact.display_name, agent_name: ctrl.me.name };
  const cannedMatches = pickKind === 'canned' && trig ? filterCanned(ctrl.canned ?? [], trig.query) : [];
  const agentMatches = pickKind === 'mention' && trig ? matchAgents(ctrl.agents, trig.query, ctrl.me.id) : [];
  const options: PickerOption[] =
    pickKind === 'canned'
      ? cannedMatches.map((c) => ({ key: c.shortcut, label: `/${c.shortcut}`, detail: fillPlaceholders(c.text, fill) }))
      : agentMatches.map((a) => ({ key: a.id, label: `@${mentionHandle(a)}`, detail: a.name }));
  const cannedOpen = pickerOpen && pickKind === 'canned';
  useEffect(() => {
    if (cannedOpen) void ctrl.loadCanned();
  }, [cannedOpen]);
  useEffect(() => setPickIndex(0), [trigId, trig?.query]);
  useEffect(() => {
    const el = props.composerRef.current;
    if (pendingCaret.current !== null && el) {
      el.setSelectionRange(pendingCaret.current, pendingCaret.current);
      pendingCaret.current = null;
    }
  });
  const pick = (i: number) => {
    if (!trig) return;
    const r =
      pickKind === 'canned'
        ? cannedMatches[i] && insertAt(text, trig, fillPlaceholders(cannedMatches[i].text, fill))
        : agentMatches[i] && insertAt(text, trig, `@${mentionHandle(agentMatches[i])}`, true);
    if (!r) return;
    setText(r.value);
    setCaret(r.caret);
    pendingCaret.current = r.caret;
    props.composerRef.current?.focus();
  };
  const trackCaret = (e: Event) => setCaret((e.currentTarget as HTMLTextAreaElement).selectionStart ?? 0);
  const onInput = (e: Event) => {
    const el = e.target as HTMLTextAreaElement;
    setText(el.value);
    setCaret(el.selectionStart ?? el.value.length);
    setDismissed(null);
    if (note) setNoteStatus(null);
  };
  /** A suggested reply goes into the composer (never sent by itself): alone, or after a blank line. */
  const takeSuggestion = (text: string) => {
    const v = withSuggestion(draftRef.current, text);
    draftRef.current = v;
    setDraft(v);
    saveDraft(localStorage, conv.id, v);
    props.composerRef.current?.focus();
  };
  const target = chLabel(t, conv.channel);
  const resolved = conv.status === 'resolved';
  const tray = useTray(ctrl.limits, conv.channel, target, t);
  const hint = limitText(ctrl.limits, conv.channel, target, t);
  const [dragging, setDragging] = useState(false);
  const env: AttachmentEnv = { t, apiBase: ctrl.apiBase, onLinkError: () => ctrl.refreshLinks(conv.id) };
  const canSend = note ? noteDraft.trim() !== '' && !noteBusy : !resolved && (draft.trim() !== '' || tray.files.length > 0);
  const addNote = async () => {
    setNoteBusy(true);
    setNoteStatus(null);
    const r = await ctrl.addNote(conv.id, noteDraft);
    setNoteBusy(false);
    if (!r.ok) {
      setNoteStatus({ ok: false, text: t('noteFailed', { a: r.reason }) });
      return;
    }
    setNoteDraft('');
    saveDraft(localStorage, `note.${conv.id}`, '');
    const names = r.mentioned.map((id) => ctrl.agents.find((a) => a.id === id)?.name ?? id);
    setNoteStatus({ ok: true, text: names.length ? t('noteNotified', { a: names.join(', ') }) : t('noteAdded') });
  };
  const send = () => {
    if (!canSend) return;
    if (note) return void addNote();
    ctrl.send(conv.id, draft, tray.files.map((f) => f.file));
    tray.clear();
    setDraft('');
    saveDraft(localStorage, conv.id, '');
  };
  const onPaste = (e: ClipboardEvent) => {
    if (resolved) return;
    // Text from an office app often brings a picture of itself too: text wins, files only alone.
    if (Array.from(e.clipboardData?.types ?? []).includes('text/plain')) return;
    const files = filesFromPaste(e.clipboardData);
    if (!files.length) return;
    e.preventDefault();
    tray.add(files);
  };
  const onDragOver = (e: DragEvent) => {
    if (resolved || !hasFiles(e.dataTransfer)) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    if (!dragging) setDragging(true);
  };
  const onDragLeave = (e: DragEvent) => {
    const to = e.relatedTarget as Node | null;
    if (!to || !(e.currentTarget as HTMLElement).contains(to)) setDragging(false);
  };
  const onDrop = (e: DragEvent) => {
    setDragging(false);
    if (resolved || !hasFiles(e.dataTransfer)) return;
    e.preventDefault();
    tray.add(Array.from(e.dataTransfer?.files ?? []));
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (pickerOpen && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey && !(e.key === 'Enter' && e.shiftKey)) {
      const act = pickerKey(e.key, pickIndex, options.length);
      if (act) {
        e.preventDefault();
        e.stopPropagation(); // Esc closes the list, it does not leave the reply box
        if (act.kind === 'move') setPickIndex(act.index);
        else if (act.kind === 'pick') pick(act.index);
        else setDismissed(trigId);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };
  const mine = conv.status === 'assigned' && conv.assignee_id === ctrl.me.id;
  const others = transferTargets(ctrl.agents, ctrl.me.id, conv.assignee_id);
  const mayTransfer = ctrl.may('assignOthers');
  const nameOfContact = (id: string) => contactName(id, Object.values(ctrl.state.conversations), ctrl.state.contacts, ctrl.state.names) ?? id;
  const heads = useMemo(() => emailHeads(messages), [messages]);
  const loadHtml = (messageId: string) => ctrl.api.emailHtml(conv.id, messageId).then((r) => r?.html ?? '');
  const byEmail = conv.channel === 'email';
  const preview = !note && !resolved && wantsPreview(ctrl.translation, conv.language, ctrl.me);
  const notifies = note ? mentionedAgents(noteDraft, ctrl.agents.filter((a) => a.id !== ctrl.me.id)) : [];
  const pickerId = `picker-${conv.id}`;
  const unreachable = conv.contact.unreachable?.find((u) => u.channel === conv.channel);
  return (
    <section
      class={dragging ? 'pane dragging' : 'pane'}
      data-testid="conversation"
      data-id={conv.id}
      onPaste={onPaste}
      onDragEnter={onDragOver}
      onDragOver={onDragOver}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      {dragging && (
        <div class="dropzone" data-testid="dropzone" aria-hidden="true">
          <strong>{t('dropFiles')}</strong>
          <span>{hint}</span>
        </div>
      )}
      <div class="pane-head">
        <button type="button" class="back" data-testid="back-to-list" aria-label={t('backToList')} title={t('backToList')} onClick={() => ctrl.close()}>
          ←
        </button>
        <h2 data-testid="conversation-title">{conv.contact.display_name}</h2>
        <span class={`status s-${conv.status}`} data-testid="conversation-status" data-status={conv.status}>{statusLabel(conv.status, ctrl.ai, t)}</span>
        <ChannelPath channels={conversationChannels(conv)} t={t} />
        <ConversationLanguage language={conv.language} reader={ctrl.me} setup={ctrl.translation} t={t} onChange={(l) => ctrl.setConversationLanguage(conv.id, l)} />
        <span class="spacer" />
        {!resolved && !mine && <button data-testid="assign-me" onClick={() => void ctrl.assignToMe(conv.id)}>{t('assignToMe')}</button>}
        {!resolved && others.length > 0 && (
          <select
            data-testid="transfer"
            value=""
            disabled={!mayTransfer}
            title={mayTransfer ? undefined : t(denyKey('assignOthers'))}
            aria-description={mayTransfer ? undefined : t(denyKey('assignOthers'))}
            onChange={(e) => { const v = (e.target as HTMLSelectElement).value; if (v) void ctrl.transfer(conv.id, v); }}
          >
            <option value="">{t('transferTo')}</option>
            {others.map((a) => (
              <option value={a.id}>{a.name} ({t(`status_${a.status}` as Key)})</option>
            ))}
          </select>
        )}
        {resolved ? (
          <button data-testid="reopen" onClick={() => void ctrl.reopen(conv.id)}>{t('reopen')}</button>
        ) : (
          <button data-testid="resolve" onClick={() => void ctrl.resolve(conv.id)}>{t('resolve')}</button>
        )}
      </div>
      <ConversationTools ctrl={ctrl} conv={conv} t={t} />
      <AiTools ctrl={ctrl} conv={conv} t={t} onSuggestion={takeSuggestion} />
      <SummaryCard key={conv.id} summary={conv.summary} t={t} />
      <QuotaNotice setup={ctrl.translation} t={t} />
      <ul class="timeline" ref={timelineRef} data-testid="timeline">
        {ctrl.state.olderCursor[conv.id] && (
          <li class="older">
            <button onClick={() => void ctrl.loadOlder()}>{t('loadOlder')}</button>
          </li>
        )}
        {messages.map((m) => (
          <MessageView
            key={m.id}
            m={m}
            t={t}
            agentName={props.agentName}
            contactName={conv.contact.display_name}
            nameOfContact={nameOfContact}
            readAt={conv.customer_read_at ?? null}
            env={env}
            emailHead={heads.get(m.id)}
            loadHtml={loadHtml}
            reader={ctrl.me}
            agents={ctrl.agents}
            bots={ctrl.bots}
            held={{ sendOriginal: () => ctrl.sendOriginal(conv.id, m.id), retry: () => ctrl.retryTranslation(conv.id, m.id) }}
          />
        ))}
        {pending.map((p) => (
          <PendingView key={p.clientId} p={p} t={t} ctrl={ctrl} />
        ))}
      </ul>
      <div class="reply-target" data-testid="reply-target" data-channel={conv.channel}>
        <span class={`chan-badge chan-${conv.channel}`}>{CHANNEL_ICON[conv.channel] ?? '?'}</span>{' '}
        {byEmail ? <EmailReplyTo address={replyAddress(messages, ctrl.state.contacts[conv.contact.id] ?? conv.contact)} t={t} /> : t('replyGoesTo', { a: target })}
        {!resolved && <span class="limit-hint" data-testid="limit-hint"> · {hint}</span>}
        {unreachable && (
          <div class="unreachable" data-testid="unreachable" role="note">
            ⚠ {t('unreachableWarn', { a: target, b: new Date(unreachable.since).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }), c: unreachable.reason })}
          </div>
        )}
      </div>
      {!note && <TrayView tray={tray} t={t} />}
      {note && (
        <div class="note-hint" data-testid="note-hint" role="note">
          {t('noteHint')}
          {notifies.length > 0 && <span data-testid="will-notify"> · {t('willNotify', { a: notifies.map((a) => a.name).join(', ') })}</span>}
        </div>
      )}
      {noteStatus && (
        <div class={noteStatus.ok ? 'note-status' : 'note-status error'} role={noteStatus.ok ? 'status' : 'alert'} data-testid="note-status">
          {noteStatus.text}
        </div>
      )}
      <div class={note ? 'composer note-mode' : 'composer'} data-mode={mode}>
        {pickerOpen && (
          <PickerList
            id={pickerId}
            kind={pickKind!}
            title={pickKind === 'canned' ? t('cannedPicker') : t('mentionPicker')}
            options={options}
            index={pickIndex}
            empty={pickKind === 'canned' ? (ctrl.canned && ctrl.canned.length === 0 ? t('cannedEmpty') : t('cannedNone', { a: trig!.query })) : t('mentionNone', { a: trig!.query })}
            onPick={pick}
            onHover={setPickIndex}
          />
        )}
        <div class="composer-side">
          <ModeToggle mode={mode} setMode={setMode} t={t} />
          {!note && <AttachButton t={t} disabled={resolved} onFiles={tray.add} hint={hint} />}
        </div>
        <textarea
          aria-label={note ? t('privateNote') : t('replyGoesTo', { a: target })}
          aria-autocomplete="list"
          aria-controls={pickerOpen && options.length ? pickerId : undefined}
          aria-activedescendant={pickerOpen && options.length ? `${pickerId}-${pickIndex}` : undefined}
          ref={props.composerRef}
          data-testid="composer"
          data-mode={mode}
          rows={3}
          value={text}
          disabled={!note && resolved}
          placeholder={note ? t('notePlaceholder') : resolved ? t('composerResolved') : t('composerPlaceholder')}
          onInput={onInput}
          onKeyDown={onKeyDown}
          onKeyUp={trackCaret}
          onClick={trackCaret}
          onBlur={() => setDismissed(trigId)}
          onFocus={() => setDismissed(null)}
        />
        <button data-testid="send" onClick={send} disabled={!canSend}>{note ? t('addNote') : t('send')}</button>
      </div>
      <TranslationPreviewView text={draft} language={conv.language} active={preview} t={t} load={(text, signal) => ctrl.previewTranslation(conv.id, text, signal)} />
    </section>
  );
}

/** "Replying by e-mail to bob@customer.org": the address of the customer's newest mail. */
function EmailReplyTo({ address, t }: { address: string | null; t: T }) {
  return (
    <span data-testid="email-reply-to" data-address={address ?? undefined}>
      {address ? t('replyByEmail', { a: address }) : t('replyByEmailNoAddress')}
    </span>
  );
}

/** The conversation's channels, oldest first: "Website → Telegram" (one channel: its name). */
function ChannelPath({ channels, t }: { channels: string[]; t: T }) {
  return (
    <span class="path" data-testid="channel-path" title={t('channelPath')} aria-label={`${t('channelPath')}: ${pathLabel(channels, (x) => chLabel(t, x))}`}>
      {channels.map((c, i) => (
        <>
          {i > 0 && ' → '}
          <span class={`path-step chan-${c}`} data-channel={c}>{chLabel(t, c)}</span>
        </>
      ))}
    </span>
  );
}

function Identities({ contact, t }: { contact: Contact; t: T }) {
  const rows = identityRows(contact);
  if (rows.length === 0) return <span data-testid="identities">{t('none')}</span>;
  return (
    <ul class="identities" data-testid="identities">
      {rows.map((r) => (
        <li data-identity-kind={r.kind} data-source={r.source} data-verified={r.verified === null ? undefined : String(r.verified)}>
          <span class="id-kind">{t(`id_${r.kind}` as Key)}</span> <span class="id-value">{r.value}</span>
          {r.verified !== null && (
            <>
              {' '}
              <span class={r.verified ? 'vbadge ok' : 'vbadge no'} data-testid="verification">{r.verified ? t('verified') : t('unverified')}</span>
            </>
          )}
        </li>
      ))}
    </ul>
  );
}

/** "Merge with another contact…": pick one of the contacts loaded, confirm, merge it into this one. */
export function MergeContact({ ctrl, contact, t }: { ctrl: Controller; contact: Contact; t: T }) {
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState('');
  const [picked, setPicked] = useState<Contact | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const reset = () => {
    setOpen(false);
    setFilter('');
    setPicked(null);
    setError(null);
  };
  if (!open) {
    const allowed = ctrl.may('merge');
    return (
      <button class="linkish" data-testid="merge-contact" disabled={!allowed} title={allowed ? undefined : t(denyKey('merge'))} onClick={() => setOpen(true)}>
        {t('mergeAction')}
      </button>
    );
  }
  const candidates = mergeCandidates(Object.values(ctrl.state.conversations), contact.id, filter);
  const confirm = async () => {
    if (!picked) return;
    setBusy(true);
    setError(null);
    const refused = await ctrl.mergeContacts(contact.id, picked.id);
    setBusy(false);
    if (refused === null) return reset();
    const key = mergeErrorKey(refused.code);
    setError(key ? t(key) : t('mergeErr_other', { a: refused.message || refused.code }));
  };
  return (
    <div class="merge" data-testid="merge-panel">
      {picked ? (
        <div class="merge-confirm">
          <p data-testid="merge-question">{t('mergeConfirm', { a: picked.display_name, b: contact.display_name })}</p>
          <button data-testid="merge-confirm" class="danger" disabled={busy} onClick={() => void confirm()}>
            {busy ? t('merging') : t('mergeDo')}
          </button>{' '}
          <button data-testid="merge-back" disabled={busy} onClick={() => { setPicked(null); setError(null); }}>{t('cancel')}</button>
        </div>
      ) : (
        <>
          <input data-testid="merge-filter" value={filter} placeholder={t('mergeFilter')} aria-label={t('mergeFilter')} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
          {candidates.length === 0 ? (
            <p class="hint">{t('mergeNoCandidates')}</p>
          ) : (
            <ul class="merge-list">
              {candidates.map((c) => (
                <li>
                  <button class="linkish" data-testid="merge-candidate" data-id={c.id} onClick={() => setPicked(c)}>
                    {c.display_name}
                  </button>{' '}
                  <span class="hint">{identityRows(c).map((r) => r.value).slice(0, 2).join(', ')}</span>
                </li>
              ))}
            </ul>
          )}
          <button data-testid="merge-cancel" onClick={reset}>{t('cancel')}</button>
        </>
      )}
      {error && <p class="error" role="alert" data-testid="merge-error">{error}</p>}
    </div>
  );
}

export function Profile({ ctrl, conv, t }: { ctrl: Controller; conv: ConversationView; t: T }) {
  const full: ContactWithConversations | undefined = ctrl.state.contacts[conv.contact.id];
  const c = full ?? conv.contact;
  const [newTag, setNewTag] = useState('');
  const addTag = (e: Event) => {
    e.preventDefault();
    const tag = newTag.trim();
    if (!tag || c.tags.includes(tag)) return;
    void ctrl.setTags(c.id, [...c.tags, tag]);
    setNewTag('');
  };
  const previous = (full?.conversations ?? []).filter((x) => x.id !== conv.id);
  const mergedName = c.merged_into ? contactName(c.merged_into, Object.values(ctrl.state.conversations), ctrl.state.contacts, ctrl.state.names) : null;
  const attributes = plainAttributes(c.attributes);
  return (
    <aside class="profile" data-testid="profile">
      <h3>{t('profile')}</h3>
      <p class="pname" data-testid="profile-name">{c.display_name}</p>
      {c.merged_into ? (
        <p class="merged" data-testid="merged-into">{t('mergedInto', { a: mergedName ?? c.merged_into })}</p>
      ) : (
        <MergeContact key={c.id} ctrl={ctrl} contact={c} t={t} />
      )}
      <dl>
        <dt>{t('identities')}</dt>
        <dd>
          <Identities contact={c} t={t} />
        </dd>
        <dt>{t('channelsSeen')}</dt>
        <dd data-testid="channels-seen">
          {(c.channels_seen ?? []).length === 0
            ? t('none')
            : (c.channels_seen ?? []).map((ch) => <ChannelBadge channel={ch} t={t} />)}
        </dd>
        <dt>{t('language')}</dt>
        <dd>{c.language ?? t('none')}</dd>
        <dt>{t('tags')}</dt>
        <dd>
          <span class="tags" data-testid="tags">
            {c.tags.map((tag) => (
              <span class="tag">
                {tag}
                <button aria-label={`remove ${tag}`} onClick={() => void ctrl.setTags(c.id, c.tags.filter((x) => x !== tag))}>×</button>
              </span>
            ))}
          </span>
          <form onSubmit={addTag} class="tag-form">
            <input data-testid="tag-input" value={newTag} placeholder={t('addTag')} onInput={(e) => setNewTag((e.target as HTMLInputElement).value)} />
          </form>
        </dd>
        <dt>{t('attributes')}</dt>
        <dd>
          {attributes.length === 0 ? (
            t('none')
          ) : (
            <table class="attrs">
              {attributes.map(([k, v]) => (
                <tr>
                  <th>{k}</th>
                  <td>{v}</td>
                </tr>
              ))}
            </table>
          )}
        </dd>
        <dt>{t('previousConversations')}</dt>
        <dd>
          {previous.length === 0 ? (
            t('none')
          ) : (
            <ul class="previous">
              {previous.map((p) => (
                <li>
                  <button class="linkish" onClick={() => void ctrl.open(p.id)}>
                    {CHANNEL_ICON[p.channel]} {new Date(p.last_activity_at).toLocaleDateString()} · {p.status} · {p.last_message?.text.slice(0, 40) ?? ''}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
      <ContactData key={c.id} ctrl={ctrl} contact={c} t={t} />
    </aside>
  );
}
