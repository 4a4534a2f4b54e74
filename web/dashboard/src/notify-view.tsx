// The header's bell (unread count, the list of notifications, each opening its conversation),
// the toasts a new @mention shows for a few seconds, and the notice saying what a change of my
// teams did to my screen. All of it text.

import { useRef, useState } from 'preact/hooks';
import type { Controller, TeamsNotice } from './controller';
import { useDismiss } from './dismiss';
import type { Key } from './i18n';
import { unreadCount } from './notifications';
import { toMs } from './triage';
import type { AgentNotification } from './types';
import { Icon } from './attachment-view';

type T = (key: Key, vars?: Record<string, string>) => string;

/** "Anna mentioned you in Bob" (the contact of the conversation, when known). */
export function notificationTitle(ctrl: Controller, n: AgentNotification, t: T): string {
  const contact = ctrl.state.conversations[n.conversation_id]?.contact.display_name ?? t('aConversation');
  return t('mentionedYou', { a: n.by_name, b: contact });
}

function time(at: AgentNotification['at']): string {
  const ms = toMs(at);
  return ms === null ? '' : new Date(ms).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function Bell({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLSpanElement>(null);
  const unread = unreadCount(ctrl.notifications);
  useDismiss(open, () => setOpen(false), box);
  const label = t('bellUnread', { a: String(unread) });
  return (
    <span class="bell-box" ref={box}>
      <button type="button" class="bell" data-testid="bell" aria-label={label} title={label} aria-haspopup="true" aria-expanded={open} onClick={() => setOpen(!open)}>
        <Icon name="bell" size={18} />
        {unread > 0 && <span class="badge" data-testid="bell-count">{unread}</span>}
      </button>
      {open && (
        <div class="bell-panel" data-testid="bell-panel" role="region" aria-label={t('bell')}>
          <div class="bell-head">
            <strong>{t('bell')}</strong>
            {unread > 0 && (
              <button type="button" class="linkish" data-testid="bell-read-all" onClick={() => ctrl.markAllNotificationsRead()}>
                {t('notif_markAll')}
              </button>
            )}
          </div>
          {ctrl.notifications.length === 0 ? (
            <p class="hint">{t('notif_none')}</p>
          ) : (
            <ul>
              {ctrl.notifications.map((n) => (
                <li class={n.read ? 'notif' : 'notif unread'} data-testid="notification" data-id={n.id} data-read={String(n.read)}>
                  <button
                    type="button"
                    class="linkish"
                    onClick={() => {
                      setOpen(false);
                      void ctrl.openNotification(n.id);
                    }}
                  >
                    <span class="notif-title">{notificationTitle(ctrl, n, t)}</span>
                    <span class="notif-text">{n.text}</span>
                    <time>{time(n.at)}</time>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </span>
  );
}

/**
 * The sentences of a teams notice, the first one its title: my teams now and why the open
 * conversation closed (naming its contact and team), or how many conversations left my lists;
 * then the teams I was put in. Added to a team alone, that is the only sentence.
 */
export function teamsNoticeText(n: TeamsNotice, t: T): string[] {
  const out: string[] = [];
  if (n.closed || n.gone > 0) out.push(t('teams_noticeChanged', { a: n.teams.length ? n.teams.join(', ') : t('teams_noticeNoTeam') }));
  if (n.closed) {
    out.push(t('teams_noticeClosed', { a: n.closed.name, b: n.closed.team ?? '' }));
    if (n.closed.draft) out.push(t('teams_noticeDraft'));
    if (n.gone > 0) out.push(n.gone === 1 ? t('teams_noticeGoneMore1') : t('teams_noticeGoneMore', { a: String(n.gone) }));
  } else if (n.gone > 0) {
    out.push(n.gone === 1 ? t('teams_noticeGone1') : t('teams_noticeGone', { a: String(n.gone) }));
  }
  if (n.added.length) out.push(t(n.added.length === 1 ? 'teams_noticeAdded' : 'teams_noticeAddedMany', { a: n.added.join(', '), b: t('tab_unassigned') }));
  return out;
}

export function Toasts({ ctrl, t }: { ctrl: Controller; t: T }) {
  return (
    <div class="toasts" aria-live="polite" data-testid="toasts">
      {ctrl.teamNotices.map((n) => {
        const [title, ...more] = teamsNoticeText(n, t);
        return (
          <div class="toast toast-notice" data-testid="teams-notice" data-id={n.id}>
            <div class="toast-body">
              <strong>{title}</strong>
              {more.map((line) => (
                <span class="toast-text">{line}</span>
              ))}
            </div>
            <button type="button" class="toast-close" aria-label={t('dismiss')} title={t('dismiss')} onClick={() => ctrl.dismissNotice(n.id)}>
              ×
            </button>
          </div>
        );
      })}
      {ctrl.toasts.map((n) => (
        <div class="toast" data-testid="toast" data-id={n.id} data-conversation={n.conversation_id}>
          <button type="button" class="toast-open" onClick={() => void ctrl.openNotification(n.id)}>
            <strong>{notificationTitle(ctrl, n, t)}</strong>
            {n.text && <span class="toast-text">{n.text}</span>}
          </button>
          <button type="button" class="toast-close" aria-label={t('dismiss')} title={t('dismiss')} onClick={() => ctrl.dismissToast(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
