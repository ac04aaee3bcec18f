"""TradePulse in Jupyter: a Jupyter server extension that shows the running service beside the notebooks.

It adds three authenticated JSON routes to the Jupyter server (the server's own token or login
protects them, like every other Jupyter API):

``GET /tradepulse/service``
    Health, status, positions and open orders of the TradePulse service (with a summary: trading
    state, equity, open positions and orders), read through :class:`tradepulse.client.AsyncLiveClient`.
    The service is found from ``TradePulseJupyter.service_url`` / ``TRADEPULSE_SERVICE_URL``, else from
    the ``service.json`` in ``TradePulseJupyter.state_dir`` / ``TRADEPULSE_STATE_DIR``. The API token
    comes from ``TRADEPULSE_API_TOKEN`` (or the service's read/operate token variables) and is never
    returned. 503 with a message when no service answers; 502 when it answers with an error.
``GET /tradepulse/runbooks``
    The runbooks (executable notebooks) with the first heading of each, from
    ``TradePulseJupyter.runbooks_dir`` (default: ``runbooks/`` under the server's root directory).
``GET /tradepulse/strategies``
    The strategy versions in the project's strategy store with their stage (research, paper, live,
    retired), read only, from ``TradePulseJupyter.store_dir`` / ``TRADEPULSE_STORE`` (default:
    ``.tradepulse/store`` under the server's root directory).

The JupyterLab side (the *TradePulse* sidebar panel) is the prebuilt extension in
``extensions/labextensions/tradepulse-lab`` (source in ``extensions/tradepulse_lab``).

Enable it with the config file in ``extensions/jupyter_server_config.d/`` (then ``jupyter server
extension enable|disable tradepulse_jupyter`` toggles it) or ``--ServerApp.jpserver_extensions``; the
package must be importable (``PYTHONPATH=extensions``). extensions/README.md has the details.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]

#: Every route this extension serves sits under this prefix (after the server's base_url).
URL_PREFIX = "tradepulse"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tell Jupyter server which module to load (this one)."""
    return [{"module": "tradepulse_jupyter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Read the extension's settings and register its handlers on ``serverapp``'s web application."""
    from jupyter_server.utils import url_path_join

    from tradepulse_jupyter.handlers import RunbooksHandler, ServiceHandler, StrategiesHandler, TradePulseJupyter

    settings = TradePulseJupyter(config=serverapp.config, parent=serverapp)
    web_app = serverapp.web_app
    web_app.settings["tradepulse_jupyter"] = settings
    base_url = web_app.settings.get("base_url", "/")
    web_app.add_handlers(".*$", [
        (url_path_join(base_url, URL_PREFIX, "service"), ServiceHandler),
        (url_path_join(base_url, URL_PREFIX, "runbooks"), RunbooksHandler),
        (url_path_join(base_url, URL_PREFIX, "strategies"), StrategiesHandler),
    ])
    serverapp.log.info("tradepulse_jupyter: /%s/service (%s), /%s/runbooks (%s) and /%s/strategies (%s) registered",
                       URL_PREFIX, settings.describe_target(), URL_PREFIX, settings.runbooks_path(),
                       URL_PREFIX, settings.store_path())
