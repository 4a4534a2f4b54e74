// The reports page: a date range (the last 7 days by default), a grouping (agent, team, channel,
// language, or the rollout bucket with its percent), the table with a totals row, human
// durations, and the CSV download (fetched with the token, saved through a blob URL).

import { useEffect, useState } from 'preact/hooks';
import type { Controller } from './controller';
import type { Key } from './i18n';
import { GROUPS, defaultRange, formatCsat, formatDuration, reportFileName, reportProblem, reportQuery, saveBlob, type ReportParams } from './reports';
import type { ReportGroup, ReportRow, ReportSummary } from './types';

type T = (key: Key, vars?: Record<string, string>) => string;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function Row({ row, total, t }: { row: ReportRow; total?: boolean; t: T }) {
  const Cell = total ? 'th' : 'td';
  return (
    <tr class={total ? 'total' : undefined} data-testid={total ? 'report-total' : 'report-row'} data-key={row.key}>
      <th scope="row">{total ? t('rep_total') : row.label || row.key}</th>
      <Cell class="num" data-col="conversations">{row.conversations}</Cell>
      <Cell class="num" data-col="resolved">{row.resolved}</Cell>
      <Cell class="num" data-col="first_response_avg">{formatDuration(row.first_response_avg_secs)}</Cell>
      <Cell class="num" data-col="first_response_p50">{formatDuration(row.first_response_p50_secs)}</Cell>
      <Cell class="num" data-col="resolution_avg">{formatDuration(row.resolution_avg_secs)}</Cell>
      <Cell class="num" data-col="resolution_p50">{formatDuration(row.resolution_p50_secs)}</Cell>
      <Cell class="num" data-col="csat_avg">{formatCsat(row.csat_avg)}</Cell>
      <Cell class="num" data-col="csat_count">{row.csat_count}</Cell>
    </tr>
  );
}

export function Reports({ ctrl, t, now = () => new Date() }: { ctrl: Controller; t: T; now?: () => Date }) {
  const [params, setParams] = useState<ReportParams>(() => ({ ...defaultRange(now()), groupBy: 'agent', rollout: 10 }));
  const [asked, setAsked] = useState<ReportParams>(params);
  const [report, setReport] = useState<ReportSummary | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [csvError, setCsvError] = useState<string | null>(null);
  const [downloading, setDownloading] = useState(false);
  const problem = reportProblem(params);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    ctrl.api.report(reportQuery(asked)).then(
      (r) => {
        if (!live) return;
        setReport(r && typeof r === 'object' && Array.isArray(r.groups) ? r : null);
        setLoading(false);
      },
      (e) => {
        if (!live) return;
        setError(t('rep_failed', { a: errorText(e) }));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [ctrl, asked]);

  const show = (e: Event) => {
    e.preventDefault();
    if (!problem) setAsked({ ...params });
  };
  const download = async () => {
    if (problem) return;
    setCsvError(null);
    setDownloading(true);
    try {
      const q = new URLSearchParams(reportQuery(params, true));
      const { blob, filename } = await ctrl.api.download(`/api/v1/reports/summary?${q}`, reportFileName(params));
      saveBlob(blob, filename);
    } catch (e) {
      setCsvError(t('rep_csvFailed', { a: errorText(e) }));
    } finally {
      setDownloading(false);
    }
  };
  const set = (patch: Partial<ReportParams>) => setParams({ ...params, ...patch });
  return (
    <section class="kb reports" data-testid="reports">
      <div class="kb-head">
        <h2>{t('rep_title')}</h2>
      </div>
      <form class="kb-body report-form" onSubmit={show} data-testid="report-form">
        <div class="faq-form-row">
          <label class="dialog-field">
            {t('rep_from')}
            <input type="date" data-testid="report-from" value={params.from} max={params.to} onInput={(e) => set({ from: (e.target as HTMLInputElement).value })} />
          </label>
          <label class="dialog-field">
            {t('rep_to')}
            <input type="date" data-testid="report-to" value={params.to} min={params.from} onInput={(e) => set({ to: (e.target as HTMLInputElement).value })} />
          </label>
          <label class="dialog-field">
            {t('rep_groupBy')}
            <select data-testid="report-group" value={params.groupBy} onChange={(e) => set({ groupBy: (e.target as HTMLSelectElement).value as ReportGroup })}>
              {GROUPS.map((g) => (
                <option value={g}>{t(`rep_g_${g}` as Key)}</option>
              ))}
            </select>
          </label>
          {params.groupBy === 'bucket' && (
            <label class="dialog-field">
              {t('rep_rollout')}
              <input type="number" min={0} max={100} step={1} size={4} data-testid="report-rollout" value={String(params.rollout)} onInput={(e) => set({ rollout: Number((e.target as HTMLInputElement).value) })} />
            </label>
          )}
          <button type="submit" class="primary" data-testid="report-show" disabled={!!problem}>{t('rep_show')}</button>
          <button type="button" data-testid="report-csv" disabled={!!problem || downloading} onClick={() => void download()}>⬇ {t('rep_csv')}</button>
        </div>
        <p class="hint">{t('rep_utc')}</p>
        {problem && <p class="error" role="alert" data-testid="report-problem">{t(problem)}</p>}
        {csvError && <p class="error" role="alert" data-testid="report-csv-error">{csvError}</p>}
      </form>
      <div class="kb-body" aria-busy={loading}>
        {error ? (
          <p class="error" role="alert" data-testid="report-error">{error}</p>
        ) : !report ? (
          <p class="hint">{t('loadingMore')}</p>
        ) : (
          <div class="report-scroll">
            <table class="calls-table report-table" data-testid="report-table" data-group-by={report.group_by}>
              <thead>
                <tr>
                  <th scope="col">{t(`rep_g_${asked.groupBy}` as Key)}</th>
                  <th scope="col" class="num">{t('rep_conversations')}</th>
                  <th scope="col" class="num">{t('rep_resolved')}</th>
                  <th scope="col" class="num">{t('rep_firstAvg')}</th>
                  <th scope="col" class="num">{t('rep_firstP50')}</th>
                  <th scope="col" class="num">{t('rep_resAvg')}</th>
                  <th scope="col" class="num">{t('rep_resP50')}</th>
                  <th scope="col" class="num">{t('rep_csat')}</th>
                  <th scope="col" class="num">{t('rep_csatCount')}</th>
                </tr>
              </thead>
              <tbody>
                {report.groups.length === 0 ? (
                  <tr>
                    <td colSpan={9} class="hint" data-testid="report-none">{t('rep_none')}</td>
                  </tr>
                ) : (
                  report.groups.map((row) => <Row row={row} t={t} />)
                )}
              </tbody>
              {report.totals && (
                <tfoot>
                  <Row row={report.totals} total t={t} />
                </tfoot>
              )}
            </table>
          </div>
        )}
      </div>
    </section>
  );
}
