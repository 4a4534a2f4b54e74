// Closing a header popover (the bell's list, the account menu) the way menus close: a press
// outside it, or Escape.

import { useEffect } from 'preact/hooks';

/** While `open`, a mouse press outside `box` or the Escape key calls `close`. */
export function useDismiss(open: boolean, close: () => void, box: { readonly current: HTMLElement | null }): void {
  useEffect(() => {
    if (!open) return;
    const away = (e: MouseEvent) => {
      if (!box.current?.contains(e.target as Node)) close();
    };
    const esc = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close();
    };
    document.addEventListener('mousedown', away);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', away);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);
}
