// The agents page (admins): every agent with their e-mail, role, status, teams and access. An
// admin changes a role (a select) or disables / enables an agent, each after a confirmation: the
// change signs that agent out at once. An agent's teams are changed in a small editor under their
// row (a checkbox per team of `GET /teams`); that applies at once and signs nobody out, so it
// needs no confirmation. A refusal is shown on the row as the server says it (409 `last_admin`:
// "this is the last admin: make someone else an admin first"; 409 `unknown_team`). New agents
// and teams come from the CLI (`omnidesk agent add … --role`, `omnidesk team add`).

import { useEffect, useState } from 'preact/hooks';
import { sentence } from './account';
import type { Controller } from './controller';
import type { Key } from './i18n';
import { ROLES, byRoleAndName, roleKey, roleOf } from './roles';
import { rulesFailure } from './rules';
import { effectiveStatus } from './state';
import { parseTeams } from './teams';
import type { Agent, Role } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

/** A change waiting for its confirmation. */
type Pending = { id: string; role: Role } | { id: string; disabled: boolean };

/** What a row says after a change: done, or the refusal. */
type RowNote = { id: string; ok: boolean; text: string };

/** The teams an agent may be put in (`GET /teams`); `missing`: a server without teams (no editor). */
type TeamChoice = { kind: 'loading' } | { kind: 'ok'; names: string[] } | { kind: 'missing' } | { kind: 'failed'; message: string };

/** The teams editor open under one agent's row, with the teams ticked so far. */
type Editing = { id: string; chosen: string[] };

/**
 * The teams the editor offers: every existing team, and any the agent is in that the list does
 * not have (so it shows, ticked, rather than being dropped unseen on Save). In name order.
 */
export function teamOptions(existing: readonly string[], current: readonly string[] = []): string[] {
  return [...new Set([...existing, ...current])].sort((a, b) => a.localeCompare(b));
}

function roleA(t: T, role: Role): string {
  return t(`ag_roleA_${role}` as Key);
}

/** The refusal of a change as the row shows it: the server's own words for a refusal it explains (409, 403), else "Could not change…". */
export function agentChangeText(t: T, name: string, code: string, message: string): string {
  if (code === 'last_admin' || code === 'forbidden' || code === 'not_found' || code === 'unknown_team') return sentence(message);
  return t('ag_failed', { a: name, b: message });
}

export function AgentsView({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<RowNote | null>(null);
  const [teams, setTeams] = useState<TeamChoice>({ kind: 'loading' });
  const [editing, setEditing] = useState<Editing | null>(null);
  const [tick, setTick] = useState(0);

  // Read on opening, and again on *Refresh* or a click on the page's nav entry while it is open.
  useEffect(() => {
    let live = true;
    setError(null);
    void ctrl.refreshAgents().then((failed) => {
      if (!live) return;
      setLoaded(true);
      if (failed !== null) setError(t('ag_loadFailed', { a: failed }));
    });
    ctrl.api.teams().then(
      (raw) => live && setTeams({ kind: 'ok', names: parseTeams(raw).map((x) => x.name) }),
      (e) => {
        if (!live) return;
        const f = rulesFailure(e);
        setTeams(f.kind === 'missing' ? { kind: 'missing' } : { kind: 'failed', message: 'message' in f ? f.message : '' });
      },
    );
    return () => {
      live = false;
    };
  }, [ctrl, tick, ctrl.viewAgain]);

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
  const saveTeams = async () => {
    if (!editing) return;
    const a = ctrl.agents.find((x) => x.id === editing.id);
    if (!a) return setEditing(null);
    setBusy(true);
    setNote(null);
    const chosen = teamOptions(editing.chosen); // each once, by name: the PATCH reads the same however they were ticked
    const r = await ctrl.patchAgent(a.id, { teams: chosen });
    setBusy(false);
    if (!r.ok) {
      // The editor stays open with the ticks as they were: fix one, Save again.
      setNote({ id: a.id, ok: false, text: agentChangeText(t, a.name, r.code, r.message) });
      return;
    }
    setEditing(null);
    const now = r.agent.teams ?? chosen;
    setNote({ id: a.id, ok: true, text: now.length ? t('ag_teamsDone', { a: a.name, b: now.join(', ') }) : t('ag_teamsNone', { a: a.name }) });
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
                      setEditing(null);
                      setPending(p);
                    }}
                    onCancel={() => setPending(null)}
                    onConfirm={() => void confirm()}
                    teams={teams.kind === 'missing' ? null : teams}
                    editing={editing?.id === a.id ? editing : null}
                    onEditTeams={() => {
                      setNote(null);
                      setPending(null);
                      setEditing({ id: a.id, chosen: [...(a.teams ?? [])] });
                    }}
                    onTick={(team, on) => setEditing((e) => (e && e.id === a.id ? { ...e, chosen: on ? [...e.chosen, team] : e.chosen.filter((x) => x !== team) } : e))}
                    onSaveTeams={() => void saveTeams()}
                    onCancelTeams={() => {
                      setEditing(null);
                      setNote(null);
                    }}
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
  /** The teams to offer; null: a server without teams (no editor). */
  teams: TeamChoice | null;
  editing: Editing | null;
  onEditTeams: () => void;
  onTick: (team: string, on: boolean) => void;
  onSaveTeams: () => void;
  onCancelTeams: () => void;
}) {
  const { a, t, pending, editing } = props;
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
        <td data-col="teams">
          <span data-testid="agent-teams">{a.teams?.length ? a.teams.join(', ') : <span class="hint">—</span>}</span>
          {props.teams && (
            <>
              {' '}
              <button
                type="button"
                class="linkish"
                data-testid="agent-teams-edit"
                aria-label={t('ag_teamsOf', { a: a.name })}
                aria-expanded={editing !== null}
                disabled={props.busy}
                onClick={editing ? props.onCancelTeams : props.onEditTeams}
              >
                {t('ag_teamsEdit')}
              </button>
            </>
          )}
        </td>
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
      {(question || editing || props.note) && (
        <tr class="agent-extra" data-testid="agent-extra" data-id={a.id}>
          <td colSpan={6}>
            {editing && props.teams && <TeamsEditor a={a} t={t} teams={props.teams} editing={editing} busy={props.busy} onTick={props.onTick} onSave={props.onSaveTeams} onCancel={props.onCancelTeams} />}
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

/** The teams editor under an agent's row: a checkbox per team, Save and Cancel. */
function TeamsEditor(props: {
  a: Agent;
  t: T;
  teams: TeamChoice;
  editing: Editing;
  busy: boolean;
  onTick: (team: string, on: boolean) => void;
  onSave: () => void;
  onCancel: () => void;
}) {
  const { a, t, teams, editing } = props;
  const label = t('ag_teamsOf', { a: a.name });
  const options = teams.kind === 'ok' ? teamOptions(teams.names, a.teams) : [];
  const cancel = (
    <button type="button" data-testid="agent-teams-cancel" disabled={props.busy} onClick={props.onCancel}>{t('cancel')}</button>
  );
  return (
    <div class="agent-teams-editor" role="group" aria-label={label} data-testid="agent-teams-editor">
      <strong class="agent-teams-title">{label}</strong>
      {teams.kind === 'loading' ? (
        <span class="hint">{t('loadingMore')}</span>
      ) : teams.kind === 'failed' ? (
        <span class="error" role="alert" data-testid="agent-teams-failed">{t('teams_failed', { a: teams.message })}</span>
      ) : teams.kind === 'missing' ? null : options.length === 0 ? (
        <span class="hint" data-testid="agent-teams-none">
          {t('ag_teamsNoneYet')} <code>omnidesk team add --name support</code>
        </span>
      ) : (
        <span class="agent-team-options">
          {options.map((team) => (
            <label class="agent-team" key={team}>
              <input
                type="checkbox"
                data-testid="agent-team-option"
                data-team={team}
                checked={editing.chosen.includes(team)}
                disabled={props.busy}
                onChange={(e) => props.onTick(team, (e.target as HTMLInputElement).checked)}
              />{' '}
              {team}
              {teams.kind === 'ok' && !teams.names.includes(team) && <span class="hint"> {t('ag_teamGone')}</span>}
            </label>
          ))}
        </span>
      )}
      <span class="agent-teams-actions">
        {teams.kind === 'ok' && options.length > 0 && (
          <button type="button" class="primary" data-testid="agent-teams-save" disabled={props.busy} onClick={props.onSave}>
            {props.busy ? t('saving') : t('ag_teamsSave')}
          </button>
        )}{' '}
        {cancel}
      </span>
      {teams.kind === 'ok' && options.length > 0 && <span class="hint agent-teams-hint">{t('ag_teamsHint')}</span>}
    </div>
  );
}
