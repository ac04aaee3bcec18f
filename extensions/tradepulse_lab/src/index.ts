/**
 * tradepulse-lab: a "TradePulse" panel in JupyterLab's left sidebar.
 *
 * It shows the live service (through the tradepulse_jupyter server extension), the strategy
 * versions in the project's store with their stage, and the runbooks, each opening as a notebook.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { LabIcon } from '@jupyterlab/ui-components';

import { TradePulsePanel } from './panel';

export { TradePulsePanel } from './panel';

const PANEL_ID = 'tradepulse-panel';

/** A pulse line: the panel's sidebar icon. */
export const pulseIcon = new LabIcon({
  name: 'tradepulse-lab:pulse',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="none" stroke="#616161" stroke-width="2" stroke-linecap="round" ' +
    'stroke-linejoin="round" d="M2 12h4l3-8 4 16 3-8h6"/></svg>'
});

const CommandIds = {
  open: 'tradepulse:open-panel',
  refresh: 'tradepulse:refresh-panel'
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'tradepulse-lab:panel',
  description: 'The TradePulse panel: live service status, strategy versions and their stage, runbooks.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new TradePulsePanel({
      openRunbook: path => app.commands.execute('docmanager:open', { path, factory: 'Notebook' })
    });
    panel.id = PANEL_ID;
    panel.title.icon = pulseIcon;
    panel.title.caption = 'TradePulse';
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, PANEL_ID);
    }
    app.commands.addCommand(CommandIds.open, {
      label: 'Show the TradePulse panel',
      execute: () => app.shell.activateById(PANEL_ID)
    });
    app.commands.addCommand(CommandIds.refresh, {
      label: 'Refresh the TradePulse panel',
      execute: () => panel.refresh()
    });
  }
};

export default plugin;
