// The DOM scaffolding the view tests share: a fresh element to render into for each test, with
// empty Web Storage, and everything a test may have stubbed, spied on or faked undone after it,
// so that no test sees what the one before it left behind.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, expect, vi } from 'vitest';

export interface DomOptions {
  /** Globals stubbed before each test, such as a `WebSocket` class for a view that opens one. */
  globals?: Record<string, unknown>;
  /**
   * Whether `click` also lets a macrotask pass, so that answers to the requests the click made
   * have landed when it returns. Off for tests that wait for what they expect with `vi.waitFor`,
   * or look at the state before the answer comes. On unless said.
   */
  flushAfterClick?: boolean;
}

/**
 * Registers the `beforeEach` / `afterEach` pair; call it once at the top level of a test file.
 * The element changes with every test, hence `root()` rather than a value.
 */
export function useDom(options: DomOptions = {}) {
  const { globals = {}, flushAfterClick = true } = options;
  let el: HTMLElement;
  beforeEach(() => {
    el = document.createElement('div');
    document.body.appendChild(el);
    localStorage.clear();
    sessionStorage.clear();
    for (const [name, value] of Object.entries(globals)) vi.stubGlobal(name, value);
  });
  afterEach(() => {
    // Inside `act`, so that whatever the unmount sets off is done before the next test starts.
    act(() => render(null, el));
    el.remove();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
    // A test that fails while it has timers faked would leave them faked for the next one.
    vi.useRealTimers();
  });

  const root = () => el;
  const $ = (sel: string) => el.querySelector(sel) as HTMLElement | null;
  const $$ = (sel: string) => Array.from(el.querySelectorAll(sel)) as HTMLElement[];
  const tid = (id: string) => $(`[data-testid="${id}"]`);
  const tids = (id: string) => $$(`[data-testid="${id}"]`);
  /** Lets a macrotask pass, inside `act`: pending fetches answer and the view draws what they brought. */
  const flush = () => act(async () => new Promise((r) => setTimeout(r, 0)));
  const click = async (target: HTMLElement | null) => {
    expect(target).not.toBeNull();
    await act(async () => target!.click());
    if (flushAfterClick) await flush();
  };
  /** Types `value` into an input or textarea, as the browser's input event reports it. */
  const fill = async (target: HTMLElement | null, value: string) => {
    expect(target).not.toBeNull();
    await act(async () => {
      (target as HTMLInputElement).value = value;
      target!.dispatchEvent(new Event('input', { bubbles: true }));
    });
  };
  return { root, $, $$, tid, tids, flush, click, fill };
}
