"""What the hub's ticker asks of the embedded broker: its refused publishes counted on their devices, and the
sessions of devices whose token was revoked or expired since they logged in dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.core.status import BrokerStats
from kiosk.protocol.payloads import Reason

log = logging.getLogger(__name__)


class RefusalCounter:
    """Publishes the broker acknowledged and refused (its ACL, `$` topics), counted on their devices. The broker's
    counters grow from its start, so the new part is counted (all of it after a broker restart)."""

    def __init__(self, stats: Callable[[], BrokerStats | None], reject: Callable[[str, Reason, str, int], None]
                 ) -> None:
        self._stats = stats
        self._reject = reject  # kiosk.services.ingest.Ingest.reject
        self._seen: dict[tuple[str, str], int] = {}
        self._uptime = 0.0

    def count(self) -> None:
        broker = self._stats()
        if broker is None or not broker.running:
            return
        seen = self._seen
        totals = {(entry.device_id, entry.reason): (entry.count, entry.last_topic)
                  for entry in broker.refused_publishes}
        restarted = broker.uptime_s < self._uptime or any(totals.get(key, (0, ""))[0] < n for key, n in seen.items())
        self._uptime = broker.uptime_s
        if restarted:
            seen.clear()
        for (device_id, reason), (total, topic) in totals.items():
            new = total - seen.get((device_id, reason), 0)
            if new > 0:
                seen[(device_id, reason)] = total
                self._reject(device_id, Reason(reason), f"published to {topic!r}, a topic it may not use "
                                                        f"(acknowledged and dropped)", new)


def drop_invalid_logins(broker: Any, still_valid: Callable[[list[str]], set[str]]) -> int:
    """Drop connected devices whose token was revoked or expired since they logged in; how many were dropped."""
    connected = broker.connected_device_ids()
    gone = set(connected) - still_valid(connected)
    for device_id in gone:
        log.info("device %s no longer holds a valid token; dropping its connection", device_id)
        broker.drop_device(device_id)
    return len(gone)
