// widget/panel.js — loaded by widget.js on first open (or in the background for a returning
// visitor). Registers its factory on the private global the loader waits for.

import { PANEL_GLOBAL, safeStorage, type LoaderContext, type PanelFactory, type PanelHandle } from '../common';
import { Controller } from './controller';
import { translator } from './i18n';
import { mountPanel } from './ui';

const factory: PanelFactory = (ctx: LoaderContext): PanelHandle => {
  const c = new Controller({
    base: ctx.api,
    wsUrl: ctx.ws,
    websiteId: ctx.websiteId,
    storage: safeStorage(),
    online: () => navigator.onLine !== false,
    visible: () => document.visibilityState !== 'hidden',
    user: ctx.user,
  });
  const handle = mountPanel(ctx, c, translator(ctx.lang));
  window.addEventListener('online', () => c.setOnline(true));
  window.addEventListener('offline', () => c.setOnline(false));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && handle.isOpen()) c.markSeen();
  });
  void c.start();
  return handle;
};

(window as unknown as Record<string, PanelFactory>)[PANEL_GLOBAL] = factory;
