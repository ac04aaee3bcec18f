"""The live service: the process that hosts the live loop and serves its API (``tradepulse serve``).

Modules: ``config`` (the TOML file), ``slots`` and ``host`` (engines, lifecycle, reconciliation,
watchdog, operator actions), ``views`` (what the API reads), ``events`` (live messages and
metrics from journal events), ``api``/``auth``/``models`` (the REST and WebSocket API) and
``server`` (uvicorn and signals). Nothing here is imported by ``import tradepulse``: the web
stack loads only when a service runs.
"""
