/**
 * The TradePulse server extension's routes (extensions/tradepulse_jupyter), read through the
 * Jupyter server's own connection settings: its base URL, token and XSRF cookie.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** `GET /tradepulse/service` (200). Extra fields the service adds are kept, and ignored here. */
export interface IServiceAnswer {
  url: string;
  health: { status?: string; trading_state?: string; uptime_seconds?: number };
  status: {
    trading_state?: string;
    service?: { version?: string; pid?: number; started_at?: string; start?: string };
    venue?: { name?: string; kind?: string; connected?: boolean };
    engines?: IEngine[];
  };
  summary?: IServiceSummary;
}

export interface IEngine {
  strategy_id: string;
  strategy?: string;
  symbol?: string;
  running?: boolean;
  trading_state?: string;
  last_bar_end?: string | null;
}

export interface IServiceSummary {
  trading_state?: string | null;
  health?: string | null;
  uptime_seconds?: number | null;
  venue?: string | null;
  venue_connected?: boolean | null;
  engines?: number;
  engines_running?: number;
  equity?: string | null;
  net_pnl?: string | null;
  positions_open?: number;
  open_orders?: number;
}

/** `GET /tradepulse/strategies` (200). */
export interface IStrategiesAnswer {
  store: string;
  exists: boolean;
  stages: string[];
  versions: IStrategyVersion[];
}

export interface IStrategyVersion {
  id: string;
  name: string;
  class: string;
  params: Record<string, unknown>;
  author: string;
  created_at: string;
  checks_passed: boolean;
  stage: string;
}

/** `GET /tradepulse/runbooks` (200). */
export interface IRunbooksAnswer {
  runbooks_dir: string;
  runbooks: IRunbook[];
}

export interface IRunbook {
  name: string;
  file: string;
  title: string | null;
  /** The notebook's path for JupyterLab; null when it lies outside the server's root. */
  path?: string | null;
}

/** One route's answer: the body, or one line saying what went wrong (never a stack). */
export type Result<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

/** GET `/tradepulse/<route>` and decode it; every failure becomes a one-line message. */
export async function fetchRoute<T>(
  route: 'service' | 'strategies' | 'runbooks',
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<Result<T>> {
  const url = URLExt.join(settings.baseUrl, 'tradepulse', route);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, { method: 'GET', cache: 'no-store' }, settings);
  } catch (error) {
    return { ok: false, status: 0, message: `the Jupyter server did not answer (${oneLine(String(error))})` };
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok && body !== null && typeof body === 'object') {
    return { ok: true, value: body as T };
  }
  const error = (body as { error?: { message?: unknown } } | null)?.error;
  let message: string;
  if (error && typeof error.message === 'string' && error.message) {
    message = error.message;
  } else if (response.status === 404) {
    message = 'the tradepulse_jupyter server extension is not enabled on this Jupyter server';
  } else if (response.status === 403) {
    message = 'the Jupyter server refused the request (log in again)';
  } else {
    message = `the Jupyter server answered ${response.status} ${response.statusText}`.trim();
  }
  return { ok: false, status: response.status, message: oneLine(message) };
}

/** `text` on one line, at most `limit` characters. */
export function oneLine(text: string, limit = 400): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}
