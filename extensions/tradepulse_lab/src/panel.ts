/**
 * The TradePulse sidebar panel: the live service's health and status, the strategy versions with
 * their stage, and the runbooks (a click opens one as a notebook).
 *
 * Everything is read from the Jupyter server's tradepulse_jupyter routes; the panel never talks to
 * the service itself and never holds its token. A failing route shows one line saying why, in its
 * own section; the other sections carry on.
 */

import { refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  fetchRoute,
  IEngine,
  IRunbook,
  IRunbooksAnswer,
  IServiceAnswer,
  IServiceSummary,
  IStrategiesAnswer,
  Result
} from './api';

/** How often the panel refreshes itself while it is visible. */
export const REFRESH_MS = 10_000;

export interface IPanelOptions {
  /** Open a notebook by its path (relative to the server's root). */
  openRunbook: (path: string) => Promise<unknown>;
  /** Fetch one route (tests and other front ends may swap it). */
  fetch?: typeof fetchRoute;
  refreshMs?: number;
}

type SectionState = 'loading' | 'ok' | 'empty' | 'error';

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A decimal string shown with thousands separators and two decimals ("10000.5" -> "10,000.50"). */
export function money(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') {
    return '—';
  }
  const number = Number(value);
  if (!Number.isFinite(number)) {
    return value;
  }
  return number.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** Seconds as "3 d 4 h", "2 h 5 min", "4 min 10 s" or "12 s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '—';
  }
  const s = Math.floor(seconds);
  const [d, h, m] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)];
  if (d > 0) {
    return `${d} d ${h} h`;
  }
  if (h > 0) {
    return `${h} h ${m} min`;
  }
  if (m > 0) {
    return `${m} min ${s % 60} s`;
  }
  return `${s} s`;
}

class Section {
  readonly node: HTMLElement;
  readonly body: HTMLElement;
  private readonly errorLine: HTMLElement;

  constructor(name: string, heading: string) {
    this.node = element('section', `tp-lab-section tp-lab-${name}`);
    this.node.dataset.state = 'loading';
    this.node.appendChild(element('h3', 'tp-lab-heading', heading));
    this.errorLine = element('div', 'tp-lab-error');
    this.errorLine.setAttribute('role', 'alert');
    this.errorLine.hidden = true;
    this.node.appendChild(this.errorLine);
    this.body = element('div', 'tp-lab-body');
    this.node.appendChild(this.body);
  }

  show(state: SectionState, error?: string): void {
    this.node.dataset.state = state;
    this.errorLine.hidden = state !== 'error';
    this.errorLine.textContent = state === 'error' ? error ?? '' : '';
    this.errorLine.title = this.errorLine.textContent;
    if (state === 'error') {
      // No stale figures under the error: what is shown is what the server says now.
      this.body.replaceChildren();
    }
  }
}

export class TradePulsePanel extends Widget {
  private readonly options: IPanelOptions;
  private readonly service = new Section('service', 'Service');
  private readonly strategies = new Section('strategies', 'Strategy versions');
  private readonly runbooks = new Section('runbooks', 'Runbooks');
  private readonly updated = element('div', 'tp-lab-updated');
  private readonly refreshButton: HTMLButtonElement;
  private timer: number | undefined;
  private running: Promise<void> | null = null;

  constructor(options: IPanelOptions) {
    super();
    this.options = options;
    this.addClass('tp-lab');

    const header = element('div', 'tp-lab-header');
    header.appendChild(element('h2', 'tp-lab-title', 'TradePulse'));
    this.refreshButton = element('button', 'jp-Button jp-mod-minimal tp-lab-refresh');
    this.refreshButton.type = 'button';
    this.refreshButton.title = 'Refresh';
    this.refreshButton.setAttribute('aria-label', 'Refresh');
    this.refreshButton.appendChild(refreshIcon.element({ tag: 'span', elementPosition: 'center' }));
    this.refreshButton.addEventListener('click', () => void this.refresh());
    header.appendChild(this.refreshButton);

    const content = element('div', 'tp-lab-content');
    content.append(this.service.node, this.strategies.node, this.runbooks.node, this.updated);
    this.node.append(header, content);
  }

  /** Read the three routes and redraw; a refresh already running is joined rather than repeated. */
  refresh(): Promise<void> {
    if (!this.running) {
      this.node.dataset.refreshing = 'true';
      this.running = this.load().finally(() => {
        this.running = null;
        delete this.node.dataset.refreshing;
      });
    }
    return this.running;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    const every = this.options.refreshMs ?? REFRESH_MS;
    this.timer = window.setInterval(() => {
      if (this.isVisible) {
        void this.refresh();
      }
    }, every);
    if (this.isVisible) {
      void this.refresh();
    }
  }

  protected onBeforeDetach(msg: Message): void {
    window.clearInterval(this.timer);
    this.timer = undefined;
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  private async load(): Promise<void> {
    const fetch = this.options.fetch ?? fetchRoute;
    const [service, strategies, runbooks] = await Promise.all([
      fetch<IServiceAnswer>('service'),
      fetch<IStrategiesAnswer>('strategies'),
      fetch<IRunbooksAnswer>('runbooks')
    ]);
    if (this.isDisposed) {
      return;
    }
    this.drawService(service);
    this.drawStrategies(strategies);
    this.drawRunbooks(runbooks);
    this.updated.textContent = `Updated ${new Date().toLocaleTimeString('en-GB')}`;
  }

  private drawService(result: Result<IServiceAnswer>): void {
    const section = this.service;
    if (!result.ok) {
      const what = result.status === 503 ? 'Service unavailable' : 'Service status not available';
      section.show('error', `${what}: ${result.message}`);
      return;
    }
    const answer = result.value;
    const summary: IServiceSummary = answer.summary ?? {
      trading_state: answer.status.trading_state ?? answer.health.trading_state,
      health: answer.health.status,
      uptime_seconds: answer.health.uptime_seconds
    };
    const state = summary.trading_state ?? 'UNKNOWN';
    const facts = element('dl', 'tp-lab-facts');
    const fact = (label: string, value: string, className?: string): HTMLElement => {
      facts.appendChild(element('dt', undefined, label));
      const dd = element('dd', className, value);
      facts.appendChild(dd);
      return dd;
    };
    const stateValue = fact('Trading state', state, `tp-lab-trading-state tp-lab-state-${state.toLowerCase()}`);
    stateValue.dataset.tradingState = state;
    fact('Health', summary.health ?? '—', `tp-lab-health tp-lab-health-${summary.health ?? 'unknown'}`);
    if (summary.equity !== undefined) {
      fact('Equity', money(summary.equity), 'tp-lab-equity');
      fact('Net P&L', money(summary.net_pnl), 'tp-lab-net-pnl');
    }
    if (summary.positions_open !== undefined) {
      fact('Open positions', String(summary.positions_open), 'tp-lab-positions');
    }
    if (summary.open_orders !== undefined) {
      fact('Open orders', String(summary.open_orders), 'tp-lab-open-orders');
    }
    const venue = answer.status.venue;
    if (venue?.name) {
      fact('Venue', `${venue.name}${venue.connected === false ? ' (disconnected)' : ''}`, 'tp-lab-venue');
    }
    fact('Uptime', duration(summary.uptime_seconds), 'tp-lab-uptime');
    fact('Service', answer.url, 'tp-lab-url');

    const engines = element('ul', 'tp-lab-engines');
    for (const engine of answer.status.engines ?? []) {
      engines.appendChild(this.engineItem(engine));
    }
    section.body.replaceChildren(facts, engines);
    section.show('ok');
  }

  private engineItem(engine: IEngine): HTMLElement {
    const item = element('li', 'tp-lab-engine');
    item.dataset.strategyId = engine.strategy_id;
    const state = engine.trading_state ?? 'UNKNOWN';
    item.append(
      element('span', 'tp-lab-engine-id', engine.strategy_id),
      element('span', 'tp-lab-engine-symbol', engine.symbol ?? ''),
      element(
        'span',
        `tp-lab-engine-state tp-lab-state-${state.toLowerCase()}`,
        engine.running === false ? 'stopped' : state
      )
    );
    item.title = `${engine.strategy ?? ''} on ${engine.symbol ?? ''}; last bar ${engine.last_bar_end ?? '—'}`;
    return item;
  }

  private drawStrategies(result: Result<IStrategiesAnswer>): void {
    const section = this.strategies;
    if (!result.ok) {
      section.show('error', `Strategy store not readable: ${result.message}`);
      return;
    }
    const answer = result.value;
    if (answer.versions.length === 0) {
      const text = answer.exists
        ? `No versions in the store at ${answer.store} yet.`
        : `No strategy store at ${answer.store} yet: \`tradepulse strategies promote\` creates it.`;
      section.body.replaceChildren(element('p', 'tp-lab-empty', text));
      section.show('empty');
      return;
    }
    const table = element('table', 'tp-lab-versions');
    const head = element('tr');
    head.append(element('th', undefined, 'Version'), element('th', undefined, 'Stage'));
    table.appendChild(element('thead')).appendChild(head);
    const body = table.appendChild(element('tbody'));
    // Newest first: the store lists them oldest first.
    for (const version of [...answer.versions].reverse()) {
      const row = element('tr', 'tp-lab-version');
      row.dataset.versionId = version.id;
      const params = Object.entries(version.params ?? {})
        .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
        .join(', ');
      row.title = `${version.class}(${params}) by ${version.author}, ${version.created_at}; checks ${
        version.checks_passed ? 'passed' : 'FAILED'
      }`;
      const id = element('td', 'tp-lab-version-id', version.id);
      const stageCell = element('td');
      const stage = element('span', `tp-lab-stage tp-lab-stage-${version.stage}`, version.stage);
      stage.dataset.stage = version.stage;
      stageCell.appendChild(stage);
      row.append(id, stageCell);
      body.appendChild(row);
    }
    section.body.replaceChildren(table, element('div', 'tp-lab-note', `Store: ${answer.store}`));
    section.show('ok');
  }

  private drawRunbooks(result: Result<IRunbooksAnswer>): void {
    const section = this.runbooks;
    if (!result.ok) {
      section.show('error', `Runbooks not available: ${result.message}`);
      return;
    }
    if (result.value.runbooks.length === 0) {
      section.body.replaceChildren(element('p', 'tp-lab-empty', `No runbooks in ${result.value.runbooks_dir}.`));
      section.show('empty');
      return;
    }
    const list = element('ul', 'tp-lab-runbook-list');
    for (const runbook of result.value.runbooks) {
      list.appendChild(element('li')).appendChild(this.runbookButton(runbook));
    }
    section.body.replaceChildren(list);
    section.show('ok');
  }

  private runbookButton(runbook: IRunbook): HTMLButtonElement {
    const button = element('button', 'tp-lab-runbook', runbook.title ?? runbook.name);
    button.type = 'button';
    button.dataset.runbook = runbook.name;
    const path = runbook.path;
    if (path) {
      button.title = `Open ${path}`;
      button.addEventListener('click', () => {
        void this.options.openRunbook(path);
      });
    } else {
      button.disabled = true;
      button.title = `${runbook.file} is outside the Jupyter server's root directory`;
    }
    return button;
  }
}
