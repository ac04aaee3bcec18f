"""The aiohttp application key under which the venue lives (shared by the app and its control routes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from tradepulse.emulator.app import Venue

__all__ = ["VENUE_KEY"]

VENUE_KEY: web.AppKey[Venue] = web.AppKey("venue")
