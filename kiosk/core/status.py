"""The hub's status as every screen sees it (the status bar, the Admin tab's health page), sampled once a second.

Plain records: the hub builds them, the API sends them on its event stream (`status`), a screen reads them back with
kiosk.protocol.api.from_wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JournalStats:
    appended: int
    commits: int
    waiting: int
    failures: int
    last_error: str | None
    last_seq: int
    stored_seq: int
    dropped_qos0: int
    resent_copies: int = 0


@dataclass(frozen=True)
class RefusedPublishes:
    """Publishes of one device the broker acknowledged and refused for one reason, since the broker started."""

    device_id: str
    reason: str
    count: int
    last_topic: str


@dataclass(frozen=True)
class BrokerStats:
    running: bool
    connected: int
    devices_connected: int
    sessions: int
    accepted_logins: int
    refused_logins: dict[str, int]
    retained: int
    uptime_s: float
    messages_in: int = 0
    messages_out: int = 0
    memory_bytes: int = 0
    journal: JournalStats | None = None
    reserved_publishes: int = 0
    refused_publishes: tuple[RefusedPublishes, ...] = ()
    unsupported_protocols: dict[str, int] = field(default_factory=dict)  # "MQTT 5" -> connections refused
    slowed_logins: int = 0  # failed logins answered late (kiosk.core.throttle)
    held_sources: int = 0  # addresses and names whose failures are slowed down now
    responding: bool = True  # False: its process runs but has not reported for a while (stopped, or hung)
    silent_s: float = 0.0  # how long it has not reported, when not responding

    @property
    def refused_publish_total(self) -> int:
        return sum(entry.count for entry in self.refused_publishes)


@dataclass(frozen=True)
class IngestStats:
    accepted: int
    rejected: int
    unknown_devices: int
    per_second: float


@dataclass(frozen=True)
class HubStatus:
    """The status bar's facts, sampled once a second."""

    broker_embedded: bool
    broker: BrokerStats | None
    link_connected: bool
    link_detail: str
    ingest: IngestStats
    database: str
    database_ok: bool
    database_error: str | None
    backlog: int
    broker_in_per_s: float = 0.0
    broker_out_per_s: float = 0.0
    journal: dict[str, Any] | None = None  # the broker's journal as health reports it (None: no journal)
    duplicates: int = 0  # readings sent again with a seq already stored
    http_refused: dict[str, int] = field(default_factory=dict)  # refused HTTP requests by reason
    http_slowed: int = 0  # wrong HTTP device tokens answered late
    http_connections: int = 0
