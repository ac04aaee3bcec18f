"""A submission whose outcome is unknown is settled by asking the venue by client order id (decision 4)."""

from __future__ import annotations

import asyncio

from live_helpers import bar_engine

from tradepulse.errors import TemporaryVenueError
from tradepulse.execution import OrderStatus
from tradepulse.adapters.paper import PaperVenue


class TimeoutAfterPlacing(PaperVenue):
    """A paper venue whose answer is lost: the order is placed, then the call times out."""

    async def submit_order(self, order):  # noqa: ANN001, ANN201
        await super().submit_order(order)
        raise TemporaryVenueError("read timeout after sending the order")


class TimeoutBeforePlacing(PaperVenue):
    """A paper venue the request never reaches."""

    async def submit_order(self, order):  # noqa: ANN001, ANN201
        raise TemporaryVenueError("connect timeout")


def replay_with(venue_class, tmp_path):
    engine, venue, journal, events = bar_engine(tmp_path / "journal.sqlite", end="2019-10-03")
    venue.__class__ = venue_class  # the same paper venue, with the fault
    report = asyncio.run(engine.run())
    return engine, report, journal


def test_an_order_placed_before_the_answer_was_lost_is_found_and_its_fills_applied(tmp_path):
    engine, report, journal = replay_with(TimeoutAfterPlacing, tmp_path)
    failed = journal.events(kinds=["order.submit_failed"])
    assert failed and all(e.payload["outcome"] == "unknown" for e in failed)
    assert {o.status for o in engine.oms.orders.values()} == {OrderStatus.FILLED}
    assert len(report.fills) == len(failed)  # every order was found at the venue, with its fill
    journal.close()


def test_an_order_the_venue_never_saw_is_marked_rejected_and_nothing_is_filled(tmp_path):
    engine, report, journal = replay_with(TimeoutBeforePlacing, tmp_path)
    rejected = [e.payload["reason"] for e in journal.iter_events(kinds=["order.rejected"])]
    assert rejected and all("no such order" in reason for reason in rejected)
    assert report.fills == [] and engine.oms.position("BTC/USDT").quantity == 0
    journal.close()


class TimeoutBeforePlacingOnce(PaperVenue):
    """A paper venue the first request never reaches; later ones arrive."""

    failed_once = False

    async def submit_order(self, order):  # noqa: ANN001, ANN201
        if not TimeoutBeforePlacingOnce.failed_once:
            TimeoutBeforePlacingOnce.failed_once = True
            raise TemporaryVenueError("connect timeout")
        return await super().submit_order(order)


def test_a_target_whose_order_never_reached_the_venue_is_acted_on_again(tmp_path):
    engine, report, journal = replay_with(TimeoutBeforePlacingOnce, tmp_path)
    orders = sorted(engine.oms.orders.values(), key=lambda order: order.created_at)
    assert orders[0].status is OrderStatus.REJECTED
    # The very next order serves the same target, on the same side: the lost one was sent again, under a new id.
    assert orders[1].side is orders[0].side and orders[1].status is OrderStatus.FILLED
    assert orders[1].client_order_id != orders[0].client_order_id
    targets = journal.events(kinds=["strategy.target"])
    assert len(report.fills) >= 1 and targets
    journal.close()
