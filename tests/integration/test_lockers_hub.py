"""The hub keeps the lockers' counts retained on MQTT and notices another station's changes."""

import json
from typing import Any

from kiosk.protocol.state import LOCKERS_TOPIC, parse_locker_counts
from kiosk.store.db import open_store
from kiosk.store.lockers import LockerDesk, Operator, Role
from tests.helpers import RecordingEvents, connect, wait_for

STAFF = Operator("desk", Role.STAFF)


def counts_seen(hub: Any) -> Any:
    """What a wall display connecting now reads: the retained counts (the newest one it gets)."""
    watcher = connect(hub.config["broker.port"], hub.internal.username, hub.internal.password)
    watcher.subscribe(LOCKERS_TOPIC, 1)
    try:
        wait_for(lambda: watcher.messages)
        return parse_locker_counts(watcher.messages[-1].payload)
    finally:
        watcher.close()


def test_counts_are_retained_and_follow_this_and_another_station(hub: Any, events: RecordingEvents) -> None:
    assert hub.link.connected.wait(5)
    first = counts_seen(hub)
    assert (first.free, first.in_use, first.total) == (150, 0, 150)  # the default: 150 lockers

    hub.lockers.add_member("CS2021001", "Rahul Sharma", "CS", STAFF)
    hub.lockers.assign("CS2021001", STAFF)
    hub.locker_service.changed()  # this station's own change: published at once, no external notice
    wait_for(lambda: counts_seen(hub).in_use == 1)
    assert events.locker_changes == 0

    other = LockerDesk(open_store(hub.config.database_url))  # a second station on the same database
    other.add_member("CS2021002", "Priya Patel", "CS", STAFF)
    other.assign("CS2021002", STAFF)
    hub.locker_service._wake.set()  # the poll, without waiting its 5 s
    wait_for(lambda: events.locker_changes >= 1)
    # The notice and the new retained counts are two messages: wait for the counts (CI once read the old ones)
    def both_in_use() -> Any:
        counts = counts_seen(hub)
        return counts if counts.in_use == 2 else None

    seen = wait_for(both_in_use)
    assert (seen.free, seen.in_use) == (148, 2)


def test_bad_counts_are_refused() -> None:
    import pytest

    from kiosk.protocol.state import StateError, locker_counts_payload

    assert parse_locker_counts(locker_counts_payload(3, 2, 1, 1)).total == 6
    for bad in (b"{", b"[]", json.dumps({"free": 1}).encode(),
                json.dumps({"free": 1, "in_use": 1, "overdue": 0, "out_of_order": 0, "total": 5}).encode(),
                json.dumps({"free": -1, "in_use": 1, "overdue": 0, "out_of_order": 0, "total": 0}).encode()):
        with pytest.raises(StateError):
            parse_locker_counts(bad)
