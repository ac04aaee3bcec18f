"""The WebSocket fan-out: one message object per publish, serialised once however many subscribe."""

from __future__ import annotations

import asyncio
import json

from tradepulse.service.events import EventBus, StreamMessage


def test_every_subscriber_gets_the_same_message_and_one_shared_text_frame():
    async def scenario():
        bus = EventBus()
        streams = [bus.subscribe() for _ in range(3)]
        firsts = [asyncio.ensure_future(anext(stream)) for stream in streams]
        await asyncio.sleep(0)  # let each subscription register its queue
        bus.publish({"type": "event", "kind": "order.filled", "seq": 7})
        received = await asyncio.gather(*firsts)
        bus.close()
        return received

    received = asyncio.run(scenario())
    assert all(isinstance(message, StreamMessage) for message in received)
    assert received[0] is received[1] is received[2]  # one object in every queue
    frames = [message.frame() for message in received]
    assert frames[0] is frames[1] is frames[2]  # serialised once, shared
    assert json.loads(frames[0]) == {"type": "event", "kind": "order.filled", "seq": 7}
