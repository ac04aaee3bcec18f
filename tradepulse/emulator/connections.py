"""One server-side WebSocket connection with its own send queue.

Publishing never waits on a client: each payload is put on the connection's queue and a writer
task sends it. A client that falls too far behind is disconnected, as Binance does with slow
consumers, instead of slowing the replay for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

__all__ = ["WsConnection"]

log = logging.getLogger(__name__)

_MAX_QUEUED_MESSAGES = 50_000


class WsConnection:
    """A WebSocket connection: the response object, its send queue and writer task.

    Parameters
    ----------
    ws, request
        The prepared aiohttp WebSocket response and its request.
    combined
        Wrap market payloads as ``{"stream": ..., "data": ...}`` (the ``/stream`` endpoint).
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, *, combined: bool = False) -> None:
        self.ws = ws
        self.request = request
        self.combined = combined
        self.streams: set[str] = set()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write(), name="venue-ws-writer")
        self.closed = False

    def send_text(self, text: str) -> None:
        """Queue ``text`` for sending; disconnect the client if it is hopelessly behind."""
        if self.closed:
            return
        if self._queue.qsize() >= _MAX_QUEUED_MESSAGES:
            log.warning("disconnecting a WebSocket client that stopped reading")
            self.drop()
            return
        self._queue.put_nowait(text)

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError, asyncio.CancelledError):
                self.closed = True
                return

    def drop(self) -> None:
        """Cut the connection without a close handshake (a network failure, as clients see it)."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def close(self) -> None:
        """Stop the writer and close the socket politely."""
        self.closed = True
        self._queue.put_nowait(None)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer
        with contextlib.suppress(Exception):
            await self.ws.close()
