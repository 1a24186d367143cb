"""Changes pushed to every screen: `GET /api/v1/events`, a WebSocket on the API's own port and tokens.

Why a WebSocket and not the hub's MQTT broker: a station then needs one address, one port and one credential (the
API's), a future web page can open it as it is, and each event carries the same JSON the API's answers do (the
changed lockers, the new state), so a screen updates from the event without another request. MQTT stays the
devices' road.

Each message is one JSON object: `{"seq": N, "topic": "lockers", "data": {...}, "at": UNIX}`. `seq` counts up from
the hub's start; a screen that sees a gap (or a `hello` with a new `hub` id after a reconnect) reads its pages again.
A client that falls more than `QUEUE_LIMIT` messages behind is closed (code 1013) and reconnects. The hub pings every
`HEARTBEAT_S`; a client that hears nothing for three of those knows the hub is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from kiosk.protocol.api import ApiError, to_wire

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
HEARTBEAT_S = 10.0
_STOP = "\x00stop"  # put on a stream's queue when the hub stops
READER_TOPICS = ("stalls", "lockers")  # what a wall display's stream carries (lockers: the counts only, no names)


class EventHub:
    """Fans events out to every open stream; `publish` may be called from any thread."""

    def __init__(self) -> None:
        self.hub_id = secrets.token_hex(4)  # new at every start: a reconnecting screen knows to read everything
        self._loop: asyncio.AbstractEventLoop | None = None
        self._streams: set[asyncio.Queue[str | None]] = set()
        self._screens: dict[str, int] = {}  # device id of a station or display -> its open streams
        self._readers: set[asyncio.Queue[str | None]] = set()  # wall displays: stalls and locker counts only
        self._lock = threading.Lock()
        self._seq = 0
        self.published = 0
        self.dropped_streams = 0

    def publish(self, topic: str, data: Any = None) -> int:
        """Send `data` (to_wire'd) on `topic` to every stream; returns the event's seq."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            loop = self._loop
        self.published += 1
        if loop is None or loop.is_closed():
            return seq
        at = round(time.time(), 3)
        text = json.dumps({"seq": seq, "topic": topic, "data": to_wire(data), "at": at}, separators=(",", ":"),
                          ensure_ascii=False)
        reader_text = None
        if self._readers and topic in READER_TOPICS:
            reader_text = text if topic != "lockers" else json.dumps(
                {"seq": seq, "topic": topic, "data": {"counts": to_wire(_counts_of(data))}, "at": at},
                separators=(",", ":"))
        try:
            loop.call_soon_threadsafe(self._fan_out, text, reader_text)
        except RuntimeError:  # the loop closed meanwhile (the hub is stopping)
            pass
        return seq

    def later(self, delay_s: float, work: Callable[[], None]) -> bool:
        """Run `work` on the streams' loop after `delay_s` (from any thread); False when no stream ever opened."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(loop.call_later, delay_s, work)
        except RuntimeError:
            return False
        return True

    @property
    def seq(self) -> int:
        return self._seq

    def connected_screens(self) -> set[str]:
        """The stations and wall displays (their device ids) following the hub now (any thread)."""
        with self._lock:
            return set(self._screens)

    def open_streams(self) -> int:
        return len(self._streams) + len(self._readers)

    def _fan_out(self, text: str, reader_text: str | None = None) -> None:
        for streams, message in ((self._streams, text), (self._readers, reader_text)):
            if message is None:
                continue
            for queue in list(streams):
                try:
                    queue.put_nowait(message)
                except asyncio.QueueFull:
                    self.dropped_streams += 1
                    streams.discard(queue)
                    queue.get_nowait()
                    queue.put_nowait(None)  # the stream closes: 1013, the client reconnects and reads everything

    def handler(self, authenticate: Callable[[web.Request], Awaitable[Any]]) -> Callable[[web.Request], Any]:
        async def stream(request: web.Request) -> web.StreamResponse:
            try:
                principal = await authenticate(request)
            except ApiError as exc:
                return web.json_response(exc.body(), status=exc.status)
            self._loop = asyncio.get_running_loop()
            socket = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)
            await socket.prepare(request)
            queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_LIMIT)
            with self._lock:
                seq = self._seq
            streams = self._readers if getattr(principal, "reader", False) else self._streams
            streams.add(queue)
            screen = getattr(principal, "station_id", None)
            if screen is not None:
                with self._lock:
                    self._screens[screen] = self._screens.get(screen, 0) + 1
            log.info("event stream opened by %s (%s)", principal.station, request.remote)
            reader = asyncio.ensure_future(self._read(socket))
            try:
                await socket.send_str(json.dumps({"seq": seq, "topic": "hello", "at": round(time.time(), 3),
                                                  "data": {"hub": self.hub_id, "station": principal.station}}))
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                    if reader in done:
                        getter.cancel()
                        break
                    text = getter.result()
                    if text is None:
                        await socket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"fell behind")
                        break
                    if text is _STOP:
                        break
                    await socket.send_str(text)
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                streams.discard(queue)
                if screen is not None:
                    with self._lock:
                        left = self._screens.get(screen, 1) - 1
                        if left > 0:
                            self._screens[screen] = left
                        else:
                            self._screens.pop(screen, None)
                reader.cancel()
                if not socket.closed:
                    await socket.close(code=WSCloseCode.GOING_AWAY, message=b"hub stopping")
                log.info("event stream of %s closed", principal.station)
            return socket

        return stream

    @staticmethod
    async def _read(socket: web.WebSocketResponse) -> None:
        """Clients send nothing but pongs and the close; anything else is ignored."""
        async for message in socket:
            if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                return

    async def on_shutdown(self, app: web.Application) -> None:
        """The hub stops: every stream closes with 1001 ("going away") before the server waits for its handlers."""
        for queue in list(self._streams) + list(self._readers):
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(_STOP)


def _counts_of(data: Any) -> Any:
    """The locker counts of a `lockers` event (a LockerChange, or the dict of a change made elsewhere)."""
    return data.get("counts") if isinstance(data, dict) else getattr(data, "counts", None)
