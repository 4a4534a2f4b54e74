// The teams page (read-only: teams are managed with `omnidesk team add`, their members on the
// agents page): name, time zone, hours, open now and the next opening (in the browser's locale),
// the answer timeout, the hops, and the members by name. Read again every minute while shown
// (open / closed changes with the clock), and when an agent changes (`agent.updated`: the
// members may have).

import { useEffect, useState } from 'preact/hooks';
import type { Controller } from './controller';
import type { Key } from './i18n';
import { rulesFailure } from './rules';
import { answerWithinText, hoursText, memberNames, nextOpenText, parseTeams } from './teams';
import { toMs } from './triage';
import type { Agent, Team } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

export const TEAMS_REFRESH_MS = 60_000;

export function TeamsView({ ctrl, t }: { ctrl: Controller; t: T }) {
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [agents, setAgents] = useState<Agent[]>(ctrl.agents);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    Promise.all([ctrl.api.teams(), ctrl.api.agents().catch(() => null)]).then(
      ([raw, a]) => {
        if (!live) return;
        setTeams(parseTeams(raw));
        if (a && Array.isArray(a.items)) setAgents(a.items);
        setError(null);
      },
      (e) => {
        if (!live) return;
        const f = rulesFailure(e);
        if (f.kind === 'missing') setMissing(true);
        else setError(t('teams_failed', { a: 'message' in f ? f.message : '' }));
      },
    );
    const id = setTimeout(() => setTick((n) => n + 1), TEAMS_REFRESH_MS);
    return () => {
      live = false;
      clearTimeout(id);
    };
  }, [ctrl, tick, ctrl.agentChanges]);

  return (
    <section class="kb teams" data-testid="teams">
      <div class="kb-head">
        <h2>{t('teams_title')}</h2>
        <span class="spacer" />
        <button type="button" data-testid="teams-refresh" onClick={() => setTick((n) => n + 1)}>{t('teams_refresh')}</button>
      </div>
      <p class="hint teams-cli" data-testid="teams-cli">
        {t('teams_cli')} <code>omnidesk team add --name support --timezone Europe/Berlin --hours "mon-fri 09:00-18:00"</code>{' '}
        {t('teams_cliAgents')} <code>omnidesk agent add … --team support</code>.
      </p>
      <div class="kb-body">
        {missing ? (
          <p class="hint" data-testid="teams-missing">{t('teams_missing')}</p>
        ) : error ? (
          <p class="error" role="alert" data-testid="teams-error">{error}</p>
        ) : teams === null ? (
          <p class="hint">{t('loadingMore')}</p>
        ) : teams.length === 0 ? (
          <p class="hint" data-testid="teams-none">{t('teams_none')}</p>
        ) : (
          <div class="report-scroll">
            <table class="calls-table teams-table" data-testid="teams-table">
              <thead>
                <tr>
                  <th scope="col">{t('teams_name')}</th>
                  <th scope="col">{t('teams_timezone')}</th>
                  <th scope="col">{t('teams_hours')}</th>
                  <th scope="col">{t('teams_open')}</th>
                  <th scope="col">{t('teams_next')}</th>
                  <th scope="col" class="num">{t('teams_answer')}</th>
                  <th scope="col" class="num">{t('teams_hops')}</th>
                  <th scope="col">{t('teams_members')}</th>
                </tr>
              </thead>
              <tbody>
                {teams.map((team) => {
                  const next = nextOpenText(team);
                  const nextMs = toMs(team.next_open);
                  const names = memberNames(team.agents, agents);
                  return (
                    <tr data-testid="team-row" data-name={team.name} data-open={team.open_now ? 'true' : 'false'}>
                      <th scope="row" data-col="name">{team.name}</th>
                      <td data-col="timezone">{team.timezone}</td>
                      <td data-col="hours" title={team.holidays?.length ? t('teams_holidays', { a: team.holidays.join(', ') }) : undefined}>
                        {hoursText(team.hours, t('teams_always'))}
                      </td>
                      <td data-col="open">
                        <span class={`open-dot ${team.open_now ? 'on' : 'off'}`} aria-hidden="true" /> {team.open_now ? t('teams_openYes') : t('teams_openNo')}
                      </td>
                      <td data-col="next">
                        {next ? <time dateTime={nextMs !== null ? new Date(nextMs).toISOString() : undefined}>{next}</time> : '—'}
                      </td>
                      <td class="num" data-col="answer">{answerWithinText(team.answer_within_secs, t('teams_never'))}</td>
                      <td class="num" data-col="hops">{team.max_hops}</td>
                      <td data-col="members">{names.length ? names.join(', ') : <span class="hint">{t('teams_noMembers')}</span>}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}
