// The agents page (admins): every agent with their e-mail, role, status, teams and access. An
// admin changes a role (a select) or disables / enables an agent, each after a confirmation: the
// change signs that agent out at once. A refusal is shown on the row as the server says it (409
// `last_admin`: "this is the last admin: make someone else an admin first"). New agents come
// from the CLI (`omnidesk agent add … --role`).

import { useEffect, useState } from 'preact/hooks';
import { sentence } from './account';
import type { Controller } from './controller';
import type { Key } from './i18n';
import { ROLES, byRoleAndName, roleKey, roleOf } from './roles';
import { effectiveStatus } from './state';
import type { Agent, Role } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

/** A change waiting for its confirmation. */
type Pending = { id: string; role: Role } | { id: string; disabled: boolean };

/** What a row says after a change: done, or the refusal. */
type RowNote = { id: string; ok: boolean; text: string };

function roleA(t: T, role: Role): string {
  return t(`ag_roleA_${role}` as Key);
}

/** The refusal of a change as the row shows it: the server's own words for a refusal it explains (409, 403), else "Could not change…". */
export function agentChangeText(t: T, name: string, code: string, message: string): string {
  if (code === 'last_admin' || code === 'forbidden' || code === 'not_found') return sentence(message);
  return t('ag_failed', { a: name, b: message });
}

export function AgentsView({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<RowNote | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    setError(null);
    void ctrl.refreshAgents().then((failed) => {
      if (!live) return;
      setLoaded(true);
      if (failed !== null) setError(t('ag_loadFailed', { a: failed }));
    });
    return () => {
      live = false;
    };
  }, [ctrl, tick]);

  const agents = [...ctrl.agents].sort(byRoleAndName);
  const confirm = async () => {
    if (!pending) return;
    const a = ctrl.agents.find((x) => x.id === pending.id);
    if (!a) return setPending(null);
    setBusy(true);
    setNote(null);
    const patch = 'role' in pending ? { role: pending.role } : { disabled: pending.disabled };
    const r = await ctrl.patchAgent(pending.id, patch);
    setBusy(false);
    setPending(null);
    if (!r.ok) {
      setNote({ id: a.id, ok: false, text: agentChangeText(t, a.name, r.code, r.message) });
      return;
    }
    const text =
      'role' in patch ? t('ag_roleDone', { a: a.name, b: roleA(t, patch.role!) }) : patch.disabled ? t('ag_disabledDone', { a: a.name }) : t('ag_enabledDone', { a: a.name });
    setNote({ id: a.id, ok: true, text });
  };

  return (
    <section class="kb agents" data-testid="agents">
      <div class="kb-head">
        <h2>{t('ag_title')}</h2>
        <span class="spacer" />
        <button type="button" data-testid="agents-refresh" onClick={() => setTick((n) => n + 1)}>{t('teams_refresh')}</button>
      </div>
      <p class="hint teams-cli" data-testid="agents-cli">
        {t('ag_intro')} <code>omnidesk agent add --email … --name … --password … --role agent --team support</code>
      </p>
      <div class="kb-body">
        {error ? (
          <p class="error" role="alert" data-testid="agents-error">{error}</p>
        ) : !loaded && agents.length === 0 ? (
          <p class="hint">{t('loadingMore')}</p>
        ) : agents.length === 0 ? (
          <p class="hint" data-testid="agents-none">{t('ag_none')}</p>
        ) : (
          <div class="report-scroll">
            <table class="calls-table agents-table" data-testid="agents-table">
              <thead>
                <tr>
                  <th scope="col">{t('ag_name')}</th>
                  <th scope="col">{t('ag_email')}</th>
                  <th scope="col">{t('ag_role')}</th>
                  <th scope="col">{t('ag_status')}</th>
                  <th scope="col">{t('ag_teams')}</th>
                  <th scope="col">{t('ag_access')}</th>
                </tr>
              </thead>
              <tbody>
                {agents.map((a) => (
                  <AgentRow
                    key={a.id}
                    a={a}
                    me={a.id === ctrl.me.id}
                    t={t}
                    busy={busy}
                    pending={pending?.id === a.id ? pending : null}
                    note={note?.id === a.id ? note : null}
                    onPick={(p) => {
                      setNote(null);
                      setPending(p);
                    }}
                    onCancel={() => setPending(null)}
                    onConfirm={() => void confirm()}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}

function AgentRow(props: {
  a: Agent;
  me: boolean;
  t: T;
  busy: boolean;
  pending: Pending | null;
  note: RowNote | null;
  onPick: (p: Pending) => void;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  const { a, t, pending } = props;
  const role = roleOf(a);
  const disabled = !!a.disabled;
  const status = effectiveStatus(a);
  const shownRole = pending && 'role' in pending ? pending.role : role;
  const question = !pending
    ? null
    : 'role' in pending
      ? t('ag_confirmRole', { a: a.name, b: roleA(t, pending.role) })
      : pending.disabled
        ? t('ag_confirmDisable', { a: a.name })
        : t('ag_confirmEnable', { a: a.name });
  return (
    <>
      <tr data-testid="agent-row" data-id={a.id} data-email={a.email} data-role={role ?? undefined} data-disabled={disabled ? 'true' : 'false'} class={disabled ? 'agent-off' : undefined}>
        <th scope="row" data-col="name">
          {a.name}
          {props.me && <span class="hint"> {t('ag_you')}</span>}
        </th>
        <td data-col="email">{a.email}</td>
        <td data-col="role">
          {role ? (
            <select
              data-testid="agent-role"
              aria-label={t('ag_roleOf', { a: a.name })}
              value={shownRole ?? undefined}
              disabled={props.busy}
              onChange={(e) => {
                const v = (e.target as HTMLSelectElement).value as Role;
                if (v === role) props.onCancel();
                else props.onPick({ id: a.id, role: v });
              }}
            >
              {ROLES.map((r) => (
                <option value={r}>{t(roleKey(r))}</option>
              ))}
            </select>
          ) : (
            '—'
          )}
        </td>
        <td data-col="status">
          {disabled ? (
            <span class="hint">—</span>
          ) : (
            <>
              <span class={`presence-dot p-${status}`} aria-hidden="true" /> {t(`status_${status}` as Key)}
            </>
          )}
        </td>
        <td data-col="teams">{a.teams?.length ? a.teams.join(', ') : <span class="hint">—</span>}</td>
        <td data-col="access">
          <span class={disabled ? 'access-badge off' : 'access-badge on'} data-testid="agent-access">{disabled ? t('ag_disabledState') : t('ag_active')}</span>{' '}
          <button
            type="button"
            class="linkish"
            data-testid={disabled ? 'agent-enable' : 'agent-disable'}
            disabled={props.busy}
            onClick={() => props.onPick({ id: a.id, disabled: !disabled })}
          >
            {disabled ? t('ag_enable') : t('ag_disable')}
          </button>
        </td>
      </tr>
      {(question || props.note) && (
        <tr class="agent-extra" data-testid="agent-extra" data-id={a.id}>
          <td colSpan={6}>
            {question && (
              <div class="agent-confirm" role="alertdialog" aria-label={question} data-testid="agent-confirm">
                <span data-testid="agent-question">{question}</span>
                {props.me && <strong class="agent-self"> {t('ag_confirmSelf')}</strong>}{' '}
                <button
                  type="button"
                  class={pending && 'disabled' in pending && pending.disabled ? 'danger' : 'primary'}
                  data-testid="agent-confirm-do"
                  disabled={props.busy}
                  onClick={props.onConfirm}
                >
                  {pending && 'role' in pending ? t('ag_doRole') : pending && pending.disabled ? t('ag_doDisable') : t('ag_doEnable')}
                </button>{' '}
                <button type="button" data-testid="agent-confirm-cancel" disabled={props.busy} onClick={props.onCancel}>{t('cancel')}</button>
              </div>
            )}
            {props.note && (
              <p class={props.note.ok ? 'ok-line' : 'error'} role={props.note.ok ? 'status' : 'alert'} data-testid={props.note.ok ? 'agent-done' : 'agent-error'}>
                {props.note.ok ? `✓ ${props.note.text}` : props.note.text}
              </p>
            )}
          </td>
        </tr>
      )}
    </>
  );
}
