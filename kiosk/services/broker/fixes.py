"""Small overrides of amqtt 0.12.1, each written so that it could be offered upstream.

`KioskBroker` is the amqtt `Broker` with these fixes applied; `service.py` uses it instead of `Broker`. The numbers
are those of ../shared/AMQTT.md's defect list; each fix has a test in tests/integration/test_broker_fixes.py that
fails on plain amqtt.

- Closing a connection whose peer has gone left the socket open: `StreamWriterAdapter.close()` awaits `drain()`
  before `close()`, and when the client has reset the connection `drain()` raises (or, during shutdown, is
  cancelled); the caller swallows it and the transport stays open until garbage collection.
  `AlwaysClosingStreamWriter` always closes the transport.
- 1. Keep-alive was not enforced: the broker's reader times out after the keep-alive, but
  `BrokerProtocolHandler.handle_read_timeout()` does nothing, so a device that lost power stayed "connected" and its
  will was never sent. `KeepAliveHandler` closes the connection (an abnormal close: the will is published), after
  1.5 x the client's keep-alive as MQTT-3.1.2-24 says.
- 5. Take-over: a second connection with a client id already connected did not close the first; with persistent
  sessions the old connection's disconnect then marked the new, live session disconnected. `KioskBroker` closes the
  old connection and waits until its session is disconnected before the new one proceeds (MQTT-3.1.4-2).
- 6. Failed logins left sessions behind, marked connected. Worse, a failed CONNECT with a live client's id and
  clean session 0 wrote its credentials into that live session and "took it over", so an unauthenticated client
  could disconnect a real device. `KioskBroker` authenticates the new connection before it looks at any session;
  a refused login gets CONNACK 5 and leaves nothing behind.
- 7. No CONNECT timeout: a socket that never sent CONNECT was held open forever. `KioskBroker` waits
  `connect_timeout_s` (10 s by default) and closes it. Oversized packets: any single read larger than
  `max_packet_bytes` (the body of a PUBLISH, say) closes the connection before the bytes are buffered.
"""

from __future__ import annotations

import asyncio
import logging
import math
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from amqtt.adapters import ReaderAdapter, StreamReaderAdapter, StreamWriterAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import Session
from amqtt.utils import gen_client_id

log = logging.getLogger(__name__)
KEEPALIVE_FACTOR = 1.5
TAKE_OVER_WAIT_S = 5.0


@dataclass(frozen=True)
class BrokerLimits:
    connect_timeout_s: float = 10.0
    max_packet_bytes: int = 256 * 1024


class PacketTooLarge(Exception):
    pass


class AlwaysClosingStreamWriter(StreamWriterAdapter):
    async def close(self) -> None:
        try:
            await super().close()
        finally:
            transport = self._writer.transport
            if not transport.is_closing():
                transport.close()
            with suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)


class LimitedStreamReader(StreamReaderAdapter):
    """Refuses to read more than `limit` bytes at once: amqtt reads a packet's body in one read of its length."""

    def __init__(self, reader: asyncio.StreamReader, limit: int) -> None:
        super().__init__(reader)
        self._limit = limit

    async def read(self, n: int = -1) -> bytes:
        if n > self._limit:
            raise PacketTooLarge(f"packet of {n} bytes or more; the limit is {self._limit}")
        return await super().read(n)


class KeepAliveHandler(BrokerProtocolHandler):
    def handle_read_timeout(self) -> None:
        client_id = self.session.client_id if self.session else "?"
        log.info("client %s silent for longer than 1.5 x its keep-alive: closing its connection", client_id)
        asyncio.ensure_future(self.handle_connection_closed())


class KioskBroker(Broker):
    def __init__(self, config: dict[str, Any], loop: asyncio.AbstractEventLoop,
                 limits: BrokerLimits = BrokerLimits()) -> None:
        super().__init__(config, loop=loop)
        self.limits = limits
        self._authenticated: set[int] = set()

    async def stream_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               listener_name: str) -> None:
        await self._client_connected(listener_name, LimitedStreamReader(reader, self.limits.max_packet_bytes),
                                     AlwaysClosingStreamWriter(writer))

    async def _initialize_client_session(self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str,
                                         remote_port: int) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, session = await asyncio.wait_for(
                KeepAliveHandler.init_from_connect(reader, writer, self.plugins_manager),
                self.limits.connect_timeout_s)
        except (asyncio.TimeoutError, AMQTTError, MQTTError, NoDataError, PacketTooLarge) as exc:
            await _close(writer)
            reason = (f"no CONNECT within {self.limits.connect_timeout_s:g} s"
                      if isinstance(exc, asyncio.TimeoutError) else f"bad CONNECT: {exc}")
            raise AMQTTError(f"{remote_address}:{remote_port}: {reason}") from exc
        if not await super()._authenticate(session, None):  # type: ignore[arg-type]
            handler.attach(session, reader, writer)
            await handler.mqtt_connack_authorize(False)
            await _close(writer)
            raise AMQTTError(f"{remote_address}:{remote_port}: login refused for client {session.client_id!r}")
        await self._take_over(session.client_id)
        session = await self._adopt_session(session)
        if session.keep_alive > 0:
            session.keep_alive = math.ceil(session.keep_alive * KEEPALIVE_FACTOR)
        self._authenticated.add(id(session))
        return handler, session

    async def _take_over(self, client_id: str | None) -> None:
        """Close a live connection that uses this client id and wait until its session is disconnected."""
        old_session, old_handler = self._sessions.get(client_id or "", (None, None))
        if old_session is None or old_handler is None or not old_session.transitions.is_connected():
            return
        log.info("client %s connected again: closing its previous connection", client_id)
        await old_handler.handle_connection_closed()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TAKE_OVER_WAIT_S
        while old_session.transitions.is_connected() and loop.time() < deadline:
            await asyncio.sleep(0.01)

    async def _adopt_session(self, session: Session) -> Session:
        """The session this connection continues (amqtt 0.12.1's logic, now after authentication)."""
        if session.clean_session:
            if session.client_id:
                await self._delete_session(session.client_id)
            else:
                session.client_id = gen_client_id()
            session.parent = 0
            return session
        existing = self._sessions.get(session.client_id or "", (None, None))[0]
        if existing is None:
            session.parent = 0
            return session
        for name in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive", "username", "password"):
            setattr(existing, name, getattr(session, name))
        existing.parent = 1
        return existing

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        """Already done in _initialize_client_session, before any session was touched."""
        if id(session) in self._authenticated:
            self._authenticated.discard(id(session))
            return True
        return await super()._authenticate(session, listener)


async def _close(writer: WriterAdapter) -> None:
    with suppress(Exception):
        await asyncio.wait_for(writer.close(), 2.0)
