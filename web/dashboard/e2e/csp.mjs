// What the browser refuses under a Content-Security-Policy, recorded in every page (and frame) of
// a browser context, so a browser test can fail on it: the dashboard is served with a strict CSP,
// and the widget must work on host pages with one. Shared by web/dashboard/e2e/run.mjs and
// web/widget/e2e/run.mjs.

/** The binding the init script reports through (one per context). */
const BINDING = '__omnideskCspViolation';

/**
 * Calls `record(text)` for every CSP violation in the context's pages, from two sources:
 * - the page's own `securitypolicyviolation` event (directive, blocked URL, the script and line
 *   that caused it, the sample), kept in `window.__cspViolations` for a look from a test and
 *   reported through a binding, so it survives a reload or a closed context;
 * - Chromium's console message ("Executing inline script violates the following Content
 *   Security Policy directive …"; older versions: "Refused to …"), which also covers frames
 *   where no script runs (a sandboxed frame) and a violation raised before the listener was there.
 * A violation usually comes from both: a list with one means zero from the other too.
 * Call it before the context's first page (init scripts only reach documents loaded after).
 */
export async function watchCsp(context, record) {
  await context.exposeBinding(BINDING, ({ frame }, v) => {
    const where = v.source ? `${v.source}:${v.line}:${v.column}` : frame.url();
    record(`${v.directive} blocked ${v.blocked || '(inline)'} at ${where}${v.sample ? ` (sample ${JSON.stringify(v.sample)})` : ''}`);
  });
  await context.addInitScript((binding) => {
    window.__cspViolations = [];
    // Capture on the window: the event is fired at the element or the document and bubbles up.
    window.addEventListener(
      'securitypolicyviolation',
      (e) => {
        const v = { directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, column: e.columnNumber, sample: e.sample };
        window.__cspViolations.push(v);
        void window[binding]?.(v);
      },
      true,
    );
  }, BINDING);
  const watchPage = (p) =>
    p.on('console', (m) => {
      if (/violates the following Content Security Policy directive|^(\[Report Only\] )?Refused to /.test(m.text())) record(`console: ${m.text()} (${m.location()?.url || p.url()})`);
    });
  context.pages().forEach(watchPage);
  context.on('page', watchPage);
}

/** The failure message for a list of recorded violations, or null when there are none. */
export function cspReport(list) {
  return list.length ? `${list.length} CSP violation report(s):\n         ${list.join('\n         ')}` : null;
}
