"""Operator sessions: bound to a station, idle expiry, age limit, ended with the operator; each audited."""

from __future__ import annotations

import pytest

from kiosk.core.operators import Operator, Role
from kiosk.protocol.api import ApiError
from kiosk.services.api.access import Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts() -> tuple[Sessions, Clock, list[tuple[str, str, str, str]]]:
    clock = Clock()
    audit: list[tuple[str, str, str, str]] = []
    return Sessions(lambda: 300.0, lambda *row: audit.append(row), clock, max_age_s=3600), clock, audit


Parts = tuple[Sessions, Clock, list[tuple[str, str, str, str]]]


def test_idle_sessions_expire_and_use_keeps_them(parts: Parts) -> None:
    sessions, clock, audit = parts
    token, record = sessions.open(Operator("root", Role.ADMIN), "Desk 2", "station-token")
    clock.now += 299
    assert sessions.check(token, "station-token") is record
    clock.now += 299
    assert sessions.check(token, "station-token") is record
    clock.now += 301
    with pytest.raises(ApiError) as expired:
        sessions.check(token, "station-token")
    assert (expired.value.status, expired.value.error) == (401, "session_expired")
    assert [row[1] for row in audit] == ["session.open", "session.expired"]
    assert "station-token" not in repr(audit) and token not in repr(audit)


def test_age_limit_holds_even_when_busy(parts: tuple[Sessions, Clock, list[tuple[str, str, str, str]]]) -> None:
    sessions, clock, _ = parts
    token, _ = sessions.open(Operator("root", Role.ADMIN), "Desk 2", "t")
    for _ in range(12):
        clock.now += 290
        sessions.check(token, "t")
    clock.now += 290
    with pytest.raises(ApiError):
        sessions.check(token, "t")


def test_bound_to_the_station_and_ended_with_the_operator(
        parts: tuple[Sessions, Clock, list[tuple[str, str, str, str]]]) -> None:
    sessions, clock, audit = parts
    token, _ = sessions.open(Operator("root", Role.ADMIN), "Desk 2", "t")
    with pytest.raises(ApiError, match="another station"):
        sessions.check(token, "other")
    assert sessions.end_operator("root", "disabled") == 1
    with pytest.raises(ApiError) as gone:
        sessions.check(token, "t")
    assert gone.value.error == "bad_session"
    sessions.open(Operator("sam", Role.STAFF), "Desk 2", "t")
    clock.now += 400
    assert sessions.sweep() == 1 and sessions.count() == 0


def test_a_desk_sign_in_acts_as_staff_and_lasts_its_own_idle_time() -> None:
    clock = Clock()
    audit: list[tuple[str, str, str, str]] = []
    sessions = Sessions(lambda: 300.0, lambda *row: audit.append(row), clock, max_age_s=36_000,
                        desk_idle_s=lambda: 7200.0)
    token, record = sessions.open(Operator("root", Role.ADMIN), "Desk 2", "t", desk=True)
    assert record.acting == Operator("root", Role.STAFF), "an admin at the desk must not get admin rights there"
    clock.now += 3600
    assert sessions.check(token, "t") is record
    assert sessions.sweep() == 0
    clock.now += 7201
    assert sessions.sweep() == 1
    assert audit[0] == ("root", "session.open", record.id, "at Desk 2, at the desk")
