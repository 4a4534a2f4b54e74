// Runtime configuration: `config.json` next to `index.html`, read at start-up, so one build
// serves any deployment. Absent, empty or not JSON (the server's index.html fallback) means
// the same origin: API base '' and the WebSocket at ws(s)://<host>/ws.

export interface RuntimeConfig {
  /** Prefix of API paths, e.g. 'https://api.example.com' ('' = same origin). */
  apiBase: string;
  /** WebSocket URL without the token, e.g. 'wss://ws.example.com/prod'. */
  wsUrl: string;
}

export function resolveConfig(raw: unknown, location: { protocol: string; host: string }): RuntimeConfig {
  const obj = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const apiBase = typeof obj.apiBase === 'string' ? obj.apiBase.trim().replace(/\/+$/, '') : '';
  const ws = typeof obj.wsUrl === 'string' ? obj.wsUrl.trim() : '';
  const wsUrl = ws || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  return { apiBase, wsUrl };
}

export async function loadConfig(): Promise<RuntimeConfig> {
  let raw: unknown = null;
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    if (res.ok) {
      const text = await res.text();
      raw = text.trim() ? JSON.parse(text) : null;
    }
  } catch {
    raw = null; // absent or not JSON: defaults
  }
  return resolveConfig(raw, window.location);
}

export function socketUrl(cfg: RuntimeConfig, token: string): string {
  const sep = cfg.wsUrl.includes('?') ? '&' : '?';
  return `${cfg.wsUrl}${sep}token=${encodeURIComponent(token)}`;
}

/** The WebSocket URL with a single-use ticket (`POST /api/v1/auth/ws-ticket`): the token itself never goes in a URL. */
export function ticketSocketUrl(cfg: RuntimeConfig, ticket: string): string {
  const sep = cfg.wsUrl.includes('?') ? '&' : '?';
  return `${cfg.wsUrl}${sep}agent_ticket=${encodeURIComponent(ticket)}`;
}
