"""The embedded amqtt broker, hosted on the service loop, with the kiosk's plugins and listeners from config."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from kiosk.config import Config
from kiosk.core.status import BrokerStats, RefusedPublishes
from kiosk.core.throttle import FailureThrottle
from kiosk.core.words import plural
from kiosk.services.broker.fixes import BrokerLimits, KioskBroker
from kiosk.services.broker.gatekeeper import Credentials, Gatekeeper
from kiosk.services.broker.journal import JournalAppender
from kiosk.services.broker.plugins import PLUGINS, attach_gatekeeper
from kiosk.store.devices import LEGACY_PREFIX, DeviceRegistry
from kiosk.store.journal import JOURNAL_FILE

log = logging.getLogger(__name__)
DROP_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ListenerSpec:
    bind: str
    port: int
    websocket_port: int = 0
    tls_port: int = 0
    tls_cert: str = ""
    tls_key: str = ""
    max_connections: int = 2000
    connect_timeout_s: float = 10.0
    max_packet_bytes: int = 256 * 1024
    max_inflight: int = 20
    session_expiry_s: float = 7 * 86400
    legacy_stallsense: bool = False
    journal_path: str = ""  # device messages on disk before their PUBACK (kiosk.store.journal); "" for none
    journal_sync: str = "full"
    legacy_max_pending: int = 50
    login_free_failures: int = 10  # failed logins per address / username before answers slow down
    login_max_delay_s: float = 30.0

    @classmethod
    def from_config(cls, config: Config) -> ListenerSpec:
        """The embedded broker's listeners and limits as the settings say."""
        broker = config.broker
        return cls(broker.bind, broker.port, broker.websocket_port if broker.websocket else 0,
                   broker.tls_port if broker.tls else 0, broker.tls_cert, broker.tls_key, broker.max_connections,
                   broker.connect_timeout_s, broker.max_packet_bytes, broker.max_inflight, broker.session_expiry_s,
                   config.stalls.legacy_stallsense,
                   str(config.data_dir / JOURNAL_FILE) if broker.journal else "", broker.journal_sync,
                   config.stalls.legacy_max_pending, config.security.login_free_failures,
                   config.security.login_max_delay_s)


def gatekeeper_for(spec: ListenerSpec, registry: DeviceRegistry, internal: Credentials,
                   clock: Callable[[], float] = time.time) -> Gatekeeper:
    """The broker's gatekeeper as the listener settings say (legacy boards, the cap, failed-login slow-down)."""
    throttle = FailureThrottle(free=spec.login_free_failures, max_hold_s=spec.login_max_delay_s)
    return Gatekeeper(registry, internal, clock, spec.legacy_stallsense, throttle, spec.legacy_max_pending)


def broker_config(spec: ListenerSpec) -> dict[str, Any]:
    """amqtt config dict: plain TCP default listener, optional WebSocket and TLS listeners, only our plugins."""
    listeners: dict[str, Any] = {
        "default": {"type": "tcp", "bind": f"{spec.bind}:{spec.port}", "max_connections": spec.max_connections},
    }
    if spec.websocket_port:
        listeners["ws"] = {"type": "ws", "bind": f"{spec.bind}:{spec.websocket_port}",
                           "max_connections": spec.max_connections}
    if spec.tls_port:
        if not (spec.tls_cert and spec.tls_key):
            raise ValueError("broker.tls is on but broker.tls_cert or broker.tls_key is empty")
        listeners["tls"] = {"type": "tcp", "bind": f"{spec.bind}:{spec.tls_port}", "ssl": True,
                            "certfile": spec.tls_cert, "keyfile": spec.tls_key,
                            "max_connections": spec.max_connections}
    # Giving `plugins` replaces amqtt's defaults, which include anonymous login.
    return {"listeners": listeners, "plugins": dict(PLUGINS),
            "session_expiry_interval": max(1, round(spec.session_expiry_s))}


class BrokerService:
    """Start/stop the broker on the service loop; drop a device's sessions; report statistics."""

    def __init__(self, spec: ListenerSpec, gatekeeper: Gatekeeper) -> None:
        self._spec = spec
        self._gatekeeper = gatekeeper
        self._broker: KioskBroker | None = None
        self._started_at: float | None = None
        self.journal: JournalAppender | None = None

    async def start(self) -> None:
        limits = BrokerLimits(self._spec.connect_timeout_s, self._spec.max_packet_bytes, self._spec.max_inflight)
        broker = KioskBroker(broker_config(self._spec), asyncio.get_running_loop(), limits)
        attach_gatekeeper(broker.plugins_manager.plugins, self._gatekeeper)
        broker.gatekeeper = self._gatekeeper
        if self._spec.journal_path:
            self.journal = JournalAppender(Path(self._spec.journal_path), self._spec.journal_sync)
            self.journal.start(asyncio.get_running_loop())
            broker.journal = self.journal
            broker.journaled = lambda session: not self._gatekeeper.is_internal(session.username)
        try:
            await broker.start()
        except BaseException:
            if self.journal is not None:
                self.journal.stop()
            raise
        self._broker = broker
        self._started_at = time.monotonic()
        log.info("embedded broker listening on %s:%d", self._spec.bind, self._spec.port)

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
            log.info("embedded broker stopped")
        if self.journal is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.journal.stop)
            self.journal = None

    @property
    def running(self) -> bool:
        return self._broker is not None

    def _connected_sessions(self) -> list[tuple[Any, Any]]:
        """Live sessions that logged in. amqtt 0.12.1 also keeps failed logins as "connected" sessions
        (../shared/AMQTT.md defect 6); counting those would show clients that do not exist."""
        if self._broker is None:
            return []
        sessions = list(self._broker.sessions.values())
        self._gatekeeper.prune_logins({s.client_id for s, _ in sessions})
        logged_in = self._gatekeeper.logged_in
        return [(s, h) for s, h in sessions if s.transitions.is_connected() and s.client_id in logged_in]

    async def drop_device(self, device_id: str) -> int:
        """Close every live connection logged in as this device; returns how many were closed."""
        self._gatekeeper.forget(device_id)
        legacy_name = device_id[len(LEGACY_PREFIX):] if device_id.startswith(LEGACY_PREFIX) else None
        closing = [h for s, h in self._connected_sessions()
                   if s.username == device_id or (legacy_name and s.username is None and s.client_id == legacy_name)]
        for handler in closing:
            await _close(handler)
        if closing:
            log.info("dropped %s of device %s", plural(len(closing), "connection"), device_id)
        return len(closing)

    def connected_device_ids(self) -> list[str]:
        """Call on the broker's loop (see `snapshot`)."""
        return self.snapshot()[1]

    def stats(self) -> BrokerStats:
        """Call on the broker's loop (see `snapshot`)."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[BrokerStats, list[str]]:
        """Statistics and the connected device ids, in one pass over the sessions.

        Run it on the broker's own loop (`await service.snapshot_async()` from other threads' coroutines): computed
        on another thread, it contends for the GIL with the loop, and every socket call the loop makes then waits up
        to the interpreter's 5 ms switch interval. Measured at 1,000 msg/s, that stalled the loop for 40-250 ms once
        a second (docs/performance.md).
        """
        connected = self._connected_sessions()
        broker = self._broker
        is_device = self._gatekeeper.is_device
        devices = sorted({s.username for s, _ in connected if is_device(s.username)})
        throttle = self._gatekeeper.throttle.stats()
        stats = BrokerStats(
            running=broker is not None,
            connected=len(connected),
            devices_connected=sum(1 for s, _ in connected if is_device(s.username)),
            sessions=len(broker.sessions) if broker else 0,
            accepted_logins=self._gatekeeper.accepted,
            refused_logins=dict(self._gatekeeper.refused),
            retained=len(broker.retained_messages) if broker else 0,
            uptime_s=time.monotonic() - self._started_at if broker and self._started_at else 0.0,
            messages_in=broker.messages_in if broker else 0,
            messages_out=broker.messages_out if broker else 0,
            memory_bytes=psutil.Process().memory_info().rss,
            journal=self.journal.stats() if self.journal is not None else None,
            reserved_publishes=broker.reserved_publishes if broker else 0,
            refused_publishes=tuple(RefusedPublishes(device, reason, count, topic) for (device, reason), (count, topic)
                                    in broker.refused_publishes.items()) if broker else (),
            unsupported_protocols=dict(broker.unsupported_protocols) if broker else {},
            slowed_logins=throttle.slowed + throttle.refused_unchecked,
            held_sources=throttle.held_keys,
        )
        return stats, devices

    async def snapshot_async(self) -> tuple[BrokerStats, list[str]]:
        return self.snapshot()

    def journal_stored(self, seq: int) -> None:
        """The hub has stored the journal up to seq (any thread)."""
        if self.journal is not None:
            self.journal.stored(seq)


async def _close(handler: Any) -> None:
    writer = getattr(handler, "writer", None)
    if writer is None:
        return
    try:
        await asyncio.wait_for(writer.close(), DROP_TIMEOUT_S)
    except (asyncio.TimeoutError, OSError) as exc:
        log.warning("closing a dropped connection did not finish cleanly: %s", exc)
