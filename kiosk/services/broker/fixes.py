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
  will was never sent. `KioskHandler` closes the connection (an abnormal close: the will is published), after
  1.5 x the client's keep-alive as MQTT-3.1.2-24 says.
- 5. Take-over: a second connection with a client id already connected did not close the first; with persistent
  sessions the old connection's disconnect then marked the new, live session disconnected. `KioskBroker` closes the
  old connection and waits until its session is disconnected before the new one proceeds (MQTT-3.1.4-2).
- 6. Failed logins left sessions behind, marked connected. Worse, a failed CONNECT with a live client's id and
  clean session 0 wrote its credentials into that live session and "took it over", so an unauthenticated client
  could disconnect a real device. `KioskBroker` authenticates the new connection before it looks at any session;
  a refused login gets CONNACK 5 and leaves nothing behind.
- 2. QoS 1 messages were dropped: the broker waited 5 s for a PUBACK and then discarded the message, and a closing
  connection discarded it too, so a slow or vanished device lost its commands. An outgoing QoS 1 message now stays in
  the session until it is acknowledged and is re-sent (DUP) when the persistent session reconnects (MQTT-4.4.0-1);
  those retries no longer hold up the new connection for 10 s each. Outgoing QoS 2 likewise: the PUBLISH is kept
  until PUBREC and the PUBREL until PUBCOMP, and a reconnect resumes where the flow stopped (amqtt gave up after 5 s
  and forgot the message at PUBREC). Messages queued while a persistent session was
  offline are delivered with retain = 0: they are not retained messages (MQTT-3.3.1-9).
- Limit: at most `max_inflight` unacknowledged QoS 1/2 messages per client; further ones wait in the session's
  queue, in order, and go out as acknowledgements arrive (amqtt had no limit: a stuck client piled up tasks).
- 3. Retained messages leaked at CONNECT: every connecting client got the retained messages of every filter any
  client had subscribed to, without the RECEIVE check (device B received device A's retained status). Retained
  messages now go only to a new subscription (MQTT-3.3.1-6) and only where the topic ACL lets the client receive.
- 4. QoS was upgraded: the broadcast did not carry the publish QoS, so a QoS 0 publish reached a QoS 1 subscriber at
  QoS 1. Delivery is now at the lower of the two (MQTT-3.8.4-6). The broadcast loop also iterates a snapshot of the
  subscriptions: it awaits the ACL check per subscriber, and a client (un)subscribing meanwhile raised
  "dictionary changed size during iteration", which killed the broadcast task under load.
- 7. No CONNECT timeout: a socket that never sent CONNECT was held open forever. `KioskBroker` waits
  `connect_timeout_s` (10 s by default) and closes it. Oversized packets: any single read larger than
  `max_packet_bytes` (the body of a PUBLISH, say) closes the connection before the bytes are buffered.
- 9. (found here) A PUBLISH whose topic name holds a wildcard (a protocol violation, MQTT-3.3.2-2) was refused while
  its packet was half read: amqtt's reader logged "Message discarded" and went on reading the rest of that packet as
  new packets (its payload became "PUBREL" and "PUBCOMP" packets), and the connection stayed open. The topic is now
  read whole (`WholeTopicHeader`) and the broker closes the connection, with a log line.
- 10. (found here) A publish to a `$` topic ended the client's message loop without closing the connection: every
  later message on it was acknowledged and dropped, and the next CONNECT with that client id waited 5 s for the
  take-over. It is now acknowledged and not passed on (MQTT 3.1.1 4.7.2), and the session goes on.
- 11. (found here) MQTT 3.1 and MQTT 5 clients got no answer: amqtt raised on the protocol name `MQIsdp` (MQTT 3.1,
  older Arduino libraries) before any CONNACK, and read an MQTT 5 CONNECT's properties as its client id, waiting
  10 s for bytes that never came. `KioskBroker` reads the CONNECT whole first: MQTT 3.1 is accepted (it differs
  from 3.1.1 only in its name and the 23-byte client id limit, which is not enforced), MQTT 5 gets CONNACK with
  reason 0x84 (in MQTT 5's own format) at once, any other level CONNACK 0x01; each is counted and logged once a
  minute per version ("unsupported protocol version").
- Publishes the ACL refuses (a device on another device's topic, on `kiosk/...`, on a `$` topic) are acknowledged as
  MQTT 3.1.1 requires and counted per device (`refused_publishes`), so the hub can count them on the device.
- 8. (found here) The session sweep closed live connections: once a second amqtt lists the disconnected clean or
  expired sessions *by client id*, then awaits each clean-up; a client that reconnected with one of those ids
  meanwhile had its new session removed and its connection closed, without a log line. Devices that roam Wi-Fi
  reconnect within seconds; `bench/broker.py` lost one device in some runs. The sweep now removes a session only
  if the id still maps to the very session it listed, still disconnected.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from amqtt.adapters import ReaderAdapter, StreamReaderAdapter, StreamWriterAdapter, WriterAdapter
from amqtt.broker import Broker, RetainedApplicationMessage
from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.events import BrokerEvents
from amqtt.mqtt.constants import QOS_0, QOS_1, QOS_2
from amqtt.mqtt.packet import MQTTVariableHeader
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.pubcomp import PubcompPacket
from amqtt.mqtt.publish import PublishPacket, PublishVariableHeader
from amqtt.mqtt.pubrec import PubrecPacket
from amqtt.mqtt.pubrel import PubrelPacket
from amqtt.session import INCOMING, OUTGOING, Session
from amqtt.utils import gen_client_id

from kiosk.core.devices import LogLimiter
from kiosk.services.broker.journal import JournalAppender
from kiosk.store.devices import LEGACY_PREFIX

log = logging.getLogger(__name__)
KEEPALIVE_FACTOR = 1.5
MAX_REFUSAL_KEYS = 10_000
TAKE_OVER_WAIT_S = 5.0


@dataclass(frozen=True)
class BrokerLimits:
    connect_timeout_s: float = 10.0
    max_packet_bytes: int = 256 * 1024
    max_inflight: int = 20


class PacketTooLarge(Exception):
    pass


class UnsupportedProtocol(Exception):
    """A CONNECT of a protocol version the broker does not speak; `connack` is the answer to send first."""

    def __init__(self, version: str, connack: bytes) -> None:
        super().__init__(f"unsupported protocol version ({version})")
        self.version = version
        self.connack = connack


CONNECT_PACKET = 0x10
MQTT311 = (b"MQTT", 4)
MQTT31 = (b"MQIsdp", 3)
CONNACK_UNACCEPTABLE_VERSION = b"\x20\x02\x00\x01"  # MQTT 3.1 / 3.1.1 format, return code 1
CONNACK_V5_UNSUPPORTED = b"\x20\x03\x00\x84\x00"  # MQTT 5 format: reason 0x84, no properties


async def read_connect(reader: ReaderAdapter, limit: int) -> bytes:
    """The first packet, whole (fixed header and body); MQTTError unless it is a CONNECT."""
    first = await reader.read(1)
    if not first:
        raise NoDataError("the connection closed before CONNECT")
    if first[0] & 0xF0 != CONNECT_PACKET:
        raise MQTTError(f"the first packet is not CONNECT (type {first[0] >> 4})")
    length, multiplier, header = 0, 1, bytearray(first)
    for _ in range(4):
        byte = await reader.read(1)
        if not byte:
            raise NoDataError("the connection closed inside CONNECT")
        header += byte
        length += (byte[0] & 0x7F) * multiplier
        multiplier *= 128
        if not byte[0] & 0x80:
            break
    else:
        raise MQTTError("malformed remaining length in CONNECT")
    if length > limit:
        raise PacketTooLarge(f"CONNECT of {length} bytes; the limit is {limit}")
    body = b""
    while len(body) < length:
        chunk = await reader.read(length - len(body))
        if not chunk:
            raise NoDataError("the connection closed inside CONNECT")
        body += chunk
    return bytes(header) + body


def as_mqtt311(packet: bytes) -> bytes:
    """A CONNECT amqtt can read: MQTT 3.1.1 as is, MQTT 3.1 renamed (the rest of its packet is the same); other
    versions raise UnsupportedProtocol with the CONNACK to answer."""
    start = 2
    while packet[start - 1] & 0x80:
        start += 1
    body = packet[start:]
    if len(body) < 3:
        raise MQTTError("CONNECT too short")
    name_length = int.from_bytes(body[:2], "big")
    name, level = body[2:2 + name_length], body[2 + name_length:3 + name_length]
    if not level:
        raise MQTTError("CONNECT too short")
    version = (name, level[0])
    if version == MQTT311:
        return packet
    if version == MQTT31:
        new_body = b"\x00\x04MQTT\x04" + body[3 + name_length:]
        return bytes([CONNECT_PACKET]) + _remaining_length(len(new_body)) + new_body
    if name == b"MQTT" and level[0] == 5:
        raise UnsupportedProtocol("MQTT 5", CONNACK_V5_UNSUPPORTED)
    label = name.decode("utf-8", "replace")[:16]
    raise UnsupportedProtocol(f"{label!r} level {level[0]}", CONNACK_UNACCEPTABLE_VERSION)


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class BufferReader(ReaderAdapter):
    """Bytes already read, offered to amqtt's CONNECT decoder as if from the socket."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    async def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._at + n
        chunk = self._data[self._at:end]
        self._at += len(chunk)
        return chunk

    def feed_eof(self) -> None:
        pass


class WholeTopicHeader(PublishVariableHeader):
    """A PUBLISH variable header that reads a topic with wildcards instead of raising half-way through the packet
    (defect 9): the broker refuses such a publish by closing the connection."""

    def __init__(self, topic_name: str, packet_id: int | None = None) -> None:
        MQTTVariableHeader.__init__(self)
        self.topic_name = topic_name
        self.packet_id = packet_id


PublishPacket.VARIABLE_HEADER = WholeTopicHeader  # the broker process decodes with it; outgoing packets unchanged


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


class KioskHandler(BrokerProtocolHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._retries: set[asyncio.Future[Any]] = set()
        self.max_inflight = BrokerLimits.max_inflight
        self.unacked = 0
        self.durable = False  # acknowledge a device's message only once it is in the journal
        # id(message) -> done when the broker has it on disk or refused it; amqtt's messages have __slots__
        self.stored: dict[int, asyncio.Future[None]] = {}

    def in_background(self, coro: Any) -> None:
        """Run a delivery without awaiting it; it ends when acknowledged or when the connection closes."""
        task = asyncio.ensure_future(coro)
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    def has_room(self) -> bool:
        return self.unacked < self.max_inflight

    def send(self, topic: str, data: bytes | bytearray, qos: int) -> asyncio.Future[Any]:
        """Start delivering one message; a QoS 1/2 message counts against max_inflight until acknowledged."""
        if qos:
            self.unacked += 1

        async def deliver() -> None:
            try:
                await self.mqtt_publish(topic, data, qos, retain=False)
            finally:
                if qos:
                    self.unacked -= 1
                    self.release_queue()

        return asyncio.ensure_future(deliver())

    def release_queue(self) -> None:
        """Send what waits in the session's queue (offline messages, overflow) while there is room in flight."""
        session = self.session
        while session is not None and self.has_room() and not session.retained_messages.empty():
            queued = session.retained_messages.get_nowait()
            self.in_background(self.send(queued.topic, queued.data, queued.qos or QOS_0))

    def handle_read_timeout(self) -> None:
        client_id = self.session.client_id if self.session else "?"
        log.info("client %s silent for longer than 1.5 x its keep-alive: closing its connection", client_id)
        asyncio.ensure_future(self.handle_connection_closed())

    async def _handle_qos1_message_flow(self, app_message: Any) -> None:
        if app_message.direction == INCOMING and self.durable and self.session is not None:
            await self._receive_qos1(app_message)
            return
        if app_message.direction != OUTGOING or self.session is None:
            await super()._handle_qos1_message_flow(app_message)
            return
        packet_id = app_message.packet_id
        self.session.inflight_out[packet_id] = app_message
        publish_packet = app_message.build_publish_packet(dup=app_message.publish_packet is not None)
        await self._send_packet(publish_packet)
        app_message.publish_packet = publish_packet
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._puback_waiters[packet_id] = waiter
        try:
            app_message.puback_packet = await waiter
        finally:
            self._puback_waiters.pop(packet_id, None)
        self.session.inflight_out.pop(packet_id, None)  # only an acknowledged message leaves the session

    async def _pass_on(self, app_message: Any) -> None:
        """Hand an incoming message to the broker and wait until it is on disk (or refused by the ACL)."""
        assert self.session is not None
        stored = self.stored[id(app_message)] = asyncio.get_running_loop().create_future()
        try:
            await self.session.delivered_message_queue.put(app_message)
            await stored
        finally:
            self.stored.pop(id(app_message), None)

    async def _receive_qos1(self, app_message: Any) -> None:
        """PUBACK only once the broker has the message on disk (the journal) or has refused it (the ACL)."""
        await self._pass_on(app_message)
        puback = PubackPacket.build(app_message.packet_id)
        await self._send_packet(puback)
        app_message.puback_packet = puback

    async def _receive_qos2(self, app_message: Any) -> None:
        """QoS 2 received with "method A" (MQTT 3.1.1 4.3.3): stored and passed on at PUBLISH, PUBREC once stored;
        a re-sent PUBLISH of a packet id still in flight gets PUBREC again and is not passed on twice."""
        assert self.session is not None
        packet_id = app_message.packet_id
        if packet_id not in self.session.inflight_in:
            self.session.inflight_in[packet_id] = app_message
            await self._pass_on(app_message)
        else:  # a re-sent PUBLISH: its PUBREC, too, waits until the first copy is on disk
            first = self.stored.get(id(self.session.inflight_in[packet_id]))
            if first is not None:
                await asyncio.shield(first)
        waiter = self._pubrel_waiters.get(packet_id)
        if waiter is None or waiter.done():  # waiting before PUBREC goes out: PUBREL may come back at once
            waiter = self._pubrel_waiters[packet_id] = asyncio.get_running_loop().create_future()
        await self._send_packet(PubrecPacket.build(packet_id))
        try:
            app_message.pubrel_packet = await waiter
        finally:
            self._pubrel_waiters.pop(packet_id, None)
        self.session.inflight_in.pop(packet_id, None)
        await self._send_packet(PubcompPacket.build(packet_id))

    async def _handle_qos2_message_flow(self, app_message: Any) -> None:
        """Outgoing QoS 2 kept in the session until PUBCOMP, without amqtt's 5 s timers; a retry after reconnect
        re-sends the PUBLISH (DUP) if no PUBREC came, else the PUBREL (MQTT-4.4.0-1)."""
        if app_message.direction == INCOMING and self.durable and self.session is not None:
            await self._receive_qos2(app_message)
            return
        if app_message.direction != OUTGOING or self.session is None:
            await super()._handle_qos2_message_flow(app_message)
            return
        packet_id = app_message.packet_id
        self.session.inflight_out[packet_id] = app_message
        loop = asyncio.get_running_loop()
        if app_message.pubrec_packet is None:
            publish_packet = app_message.build_publish_packet(dup=app_message.publish_packet is not None)
            await self._send_packet(publish_packet)
            app_message.publish_packet = publish_packet
            received: asyncio.Future[Any] = loop.create_future()
            self._pubrec_waiters[packet_id] = received
            try:
                app_message.pubrec_packet = await received
            finally:
                self._pubrec_waiters.pop(packet_id, None)
        app_message.pubrel_packet = PubrelPacket.build(packet_id)
        await self._send_packet(app_message.pubrel_packet)
        completed: asyncio.Future[Any] = loop.create_future()
        self._pubcomp_waiters[packet_id] = completed
        try:
            app_message.pubcomp_packet = await completed
        finally:
            self._pubcomp_waiters.pop(packet_id, None)
        self.session.inflight_out.pop(packet_id, None)

    async def _retry_deliveries(self) -> None:
        if self.session is None:
            return
        for message in [*self.session.inflight_in.values(), *self.session.inflight_out.values()]:
            self.in_background(self._handle_message_flow(message))


class KioskBroker(Broker):
    def __init__(self, config: dict[str, Any], loop: asyncio.AbstractEventLoop,
                 limits: BrokerLimits = BrokerLimits()) -> None:
        super().__init__(config, loop=loop)
        self.limits = limits
        self._authenticated: set[int] = set()
        self._connecting: set[int] = set()
        self.gatekeeper: Any = None  # set by BrokerService: topic checks go to it directly (see _topic_filtering)
        self.messages_in = 0  # PUBLISH packets accepted from clients
        self.journal: JournalAppender | None = None  # set by BrokerService: device messages go to disk first
        self.journaled: Callable[[Session], bool] = lambda _session: True  # whose messages go to the journal
        self.reserved_publishes = 0  # PUBLISH to a $ topic: acknowledged, not passed on (MQTT 3.1.1 4.7.2)
        # (device, reason) -> [count, last topic]: publishes acknowledged and refused (the ACL, a $ topic)
        self.refused_publishes: dict[tuple[str, str], list[Any]] = {}
        self.unsupported_protocols: Counter[str] = Counter()
        self._log_limiter = LogLimiter(time.monotonic)
        self.messages_out = 0  # deliveries to subscribers (sent or queued)

    async def stream_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               listener_name: str) -> None:
        try:
            await self._client_connected(listener_name, LimitedStreamReader(reader, self.limits.max_packet_bytes),
                                         AlwaysClosingStreamWriter(writer))
        except asyncio.CancelledError:
            # The broker is stopping while this connection waits (a slowed failed login, say). Ending the task
            # here spares asyncio's stream callback an ERROR with a traceback per such connection.
            writer.transport.abort()

    async def _initialize_client_session(self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str,
                                         remote_port: int) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, session = await asyncio.wait_for(self._read_connect(reader, writer),
                                                      self.limits.connect_timeout_s)
        except UnsupportedProtocol as exc:
            self.unsupported_protocols[exc.version] += 1
            may_log, held = self._log_limiter.allow("unsupported", exc.version)
            if may_log:
                more = f"; {held} more since the last report" if held else ""
                log.warning("refused a connection from %s: unsupported protocol version (%s); the kiosk speaks "
                            "MQTT 3.1.1 and 3.1%s", remote_address, exc.version, more)
            await _close(writer)
            raise AMQTTError(f"{remote_address}:{remote_port}: {exc}") from exc
        except (asyncio.TimeoutError, AMQTTError, MQTTError, NoDataError, PacketTooLarge) as exc:
            await _close(writer)
            reason = (f"no CONNECT within {self.limits.connect_timeout_s:g} s"
                      if isinstance(exc, asyncio.TimeoutError) else f"bad CONNECT: {exc}")
            raise AMQTTError(f"{remote_address}:{remote_port}: {reason}") from exc
        handler.max_inflight = self.limits.max_inflight
        handler.durable = self.journal is not None
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

    async def _read_connect(self, reader: ReaderAdapter,
                            writer: WriterAdapter) -> tuple[BrokerProtocolHandler, Session]:
        packet = await read_connect(reader, self.limits.max_packet_bytes)
        try:
            packet = as_mqtt311(packet)
        except UnsupportedProtocol as exc:
            writer.write(exc.connack)
            with suppress(Exception):
                await writer.drain()
            raise
        return await KioskHandler.init_from_connect(BufferReader(packet), writer, self.plugins_manager)

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

    async def _session_monitor(self) -> None:
        """amqtt 0.12.1's sweep of disconnected sessions, with each removal re-checked after the awaits (defect 8)."""
        while True:
            expiry = self.config.session_expiry_interval
            oldest_kept = math.floor(time.time() - expiry) if expiry is not None else None
            listed = [(client_id, session) for client_id, (session, _h) in self._sessions.items()
                      if session.transitions.state == "disconnected" and (
                          session.is_anonymous or session.clean_session or (
                              oldest_kept is not None and session.last_disconnect_time
                              and session.last_disconnect_time < oldest_kept))]
            for client_id, session in listed:
                current = self._sessions.get(client_id, (None, None))[0]
                if current is session and session.transitions.state == "disconnected":
                    await self._cleanup_session(client_id)
            await asyncio.sleep(1)

    async def _handle_message_delivery(self, client_session: Session, handler: BrokerProtocolHandler,
                                       wait_deliver: asyncio.Future[Any]) -> bool:
        """amqtt 0.12.1's checks with the publish QoS handed to the broadcast (defect 4), a device's message put in
        the journal before it is acknowledged, and no path that ends the client's message loop while the
        connection stays open (a publish to a `$` topic did: every later message was acknowledged and dropped)."""
        app_message = wait_deliver.result()
        await self.plugins_manager.fire_event(BrokerEvents.MESSAGE_RECEIVED, client_id=client_session.client_id,
                                              message=app_message)
        if app_message is None:
            return True
        stored = handler.stored.get(id(app_message)) if isinstance(handler, KioskHandler) else None
        journaled = [False]
        try:
            return await self._deliver_message(client_session, handler, app_message, stored, journaled)
        finally:
            if stored is not None and not stored.done() and not journaled[0]:
                stored.set_result(None)  # refused or passed on without the journal: acknowledge as MQTT says

    async def _deliver_message(self, client_session: Session, handler: BrokerProtocolHandler, app_message: Any,
                               stored: asyncio.Future[None] | None, journaled: list[bool]) -> bool:
        self.messages_in += 1
        topic = app_message.topic
        if not topic or "#" in topic or "+" in topic:
            log.warning("%s published to an invalid topic %r: closing its connection", client_session.client_id,
                        topic)
            if stored is not None:
                stored.cancel()  # no acknowledgement for a protocol violation
            asyncio.ensure_future(handler.handle_connection_closed())
            return True
        if topic.startswith("$"):
            self.reserved_publishes += 1
            self._refused_publish(client_session, topic)
            return True
        if not await self._topic_filtering(client_session, topic=topic, action=Action.PUBLISH):
            self._refused_publish(client_session, topic)
            return True
        if self.journal is not None and self.journaled(client_session):
            packet = app_message.publish_packet
            written = self.journal.append(client_session.client_id or "", topic, app_message.data,
                                          app_message.qos or QOS_0, app_message.packet_id,
                                          bool(packet is not None and packet.dup_flag))
            if written is not None and stored is not None:
                journaled[0] = True
                written.add_done_callback(lambda done: _settle(stored, done))
        await self.plugins_manager.fire_event(BrokerEvents.MESSAGE_BROADCAST, client_id=client_session.client_id,
                                              message=app_message)
        await self._broadcast_queue.put({"session": client_session, "topic": topic, "data": app_message.data,
                                         "publish_qos": app_message.qos or QOS_0})
        if app_message.publish_packet and app_message.publish_packet.retain_flag:
            await self.retain_message(client_session, topic, app_message.data, app_message.qos)
        return True

    def _refused_publish(self, session: Session, topic: str) -> None:
        """Count a publish the client may not make, on the device that made it (the hub's own are not counted)."""
        gatekeeper = self.gatekeeper
        if gatekeeper is not None and gatekeeper.is_internal(session.username):
            return
        who = session.username or (LEGACY_PREFIX + session.client_id if session.client_id else "?")
        key = (who[:64], "not_allowed")
        entry = self.refused_publishes.get(key)
        if entry is None:
            if len(self.refused_publishes) >= MAX_REFUSAL_KEYS:
                return
            entry = self.refused_publishes[key] = [0, ""]
        entry[0] += 1
        entry[1] = topic[:200]

    async def _run_broadcast(self, running_tasks: Any) -> None:
        broadcast = await self._broadcast_queue.get()
        topic = broadcast["topic"]
        for a_filter, subscriptions in list(self._subscriptions.items()):
            if not self._matches(topic, a_filter):
                continue
            for target_session, sub_qos in list(subscriptions):
                await self._deliver(broadcast, target_session, sub_qos, running_tasks)

    async def _deliver(self, broadcast: dict[str, Any], target: Session, sub_qos: int, running_tasks: Any) -> None:
        if "qos" in broadcast:  # forced by the broker itself: wills, internal messages
            qos = broadcast["qos"]
        else:
            qos = min(sub_qos, broadcast.get("publish_qos", sub_qos))
        if not await self._topic_filtering(target, topic=broadcast["topic"], action=Action.RECEIVE):
            return
        connected = target.transitions.state == "connected"
        self.messages_out += 1
        if not connected and not target.clean_session and qos in (QOS_1, QOS_2) and not target.is_anonymous:
            await self._retain_broadcast_message(broadcast, qos, target)
            return
        handler = self._get_handler(target) if connected else None
        if isinstance(handler, KioskHandler):
            # Queue behind what is already queued (order per topic, MQTT 4.6), or when max_inflight is reached.
            if qos and (not handler.has_room() or not target.retained_messages.empty()):
                await target.retained_messages.put(
                    RetainedApplicationMessage(broadcast["session"], broadcast["topic"], broadcast["data"], qos))
                return
            running_tasks.append(handler.send(broadcast["topic"], broadcast["data"], qos))

    async def _publish_session_retained_messages(self, session: Session) -> None:
        """Deliver what was queued while the session was offline: retain = 0, without holding up the connection."""
        handler = self._get_handler(session)
        if isinstance(handler, KioskHandler):
            handler.release_queue()
        # In _handle_client_session this is followed by the loop that offers every filter's retained messages to
        # the connecting client (defect 3); until the client's message loop starts, that offer is refused.
        self._connecting.add(id(session))

    async def _client_message_loop(self, client_session: Session, handler: BrokerProtocolHandler) -> None:
        self._connecting.discard(id(client_session))
        await super()._client_message_loop(client_session, handler)

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                          session: Session) -> None:
        if id(session) in self._connecting:
            return
        handler = self._get_handler(session)
        if handler is None:
            return
        a_filter, sub_qos = subscription
        tasks = []
        for topic, retained in list(self._retained_messages.items()):
            if not self._matches(topic, a_filter):
                continue
            if not await self._topic_filtering(session, topic=topic, action=Action.RECEIVE):
                continue
            qos = min(sub_qos, retained.qos if retained.qos is not None else sub_qos)
            tasks.append(asyncio.ensure_future(handler.mqtt_publish(topic, retained.data, qos, retain=True)))
        if tasks:
            await asyncio.wait(tasks)

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        """The kiosk's ACL, asked directly. amqtt's plugin manager wraps every check (each PUBLISH, and each
        subscriber of each message) in a task and a gather: 11 % of the broker's time at 1,000 msg/s."""
        if self.gatekeeper is None:
            return await super()._topic_filtering(session, topic, action)
        subscribing = action != Action.PUBLISH
        return bool(self.gatekeeper.may_use(session.username, topic, subscribing, session.client_id))

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        """Already done in _initialize_client_session, before any session was touched."""
        if id(session) in self._authenticated:
            self._authenticated.discard(id(session))
            return True
        return await super()._authenticate(session, listener)


def _settle(stored: asyncio.Future[None], written: asyncio.Future[None]) -> None:
    """The journal's answer decides the acknowledgement: written -> PUBACK; cancelled (stopping) -> none."""
    if stored.done():
        return
    if written.cancelled() or written.exception() is not None:
        stored.cancel()
    else:
        stored.set_result(None)


async def _close(writer: WriterAdapter) -> None:
    with suppress(Exception):
        await asyncio.wait_for(writer.close(), 2.0)
