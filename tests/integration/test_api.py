"""The screens' API (/api/v1/) through the real HTTP server of a real hub: tokens, sessions, rights, validation,
the error shape, answers that say what changed, and the event stream."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.client.events import EventStream
from kiosk.client.http import ApiClient, HubUnreachable
from kiosk.client.lockers import RemoteLockers
from kiosk.client.session import RemoteOperators, SignInRefused
from kiosk.core.lockers import AlreadyAssigned, HistoryFilter, LockerError
from kiosk.core.operators import Operator, Role
from kiosk.protocol.api import ApiError
from kiosk.services.api.access import local_station_token
from kiosk.services.hub import Hub
from kiosk.store.models import AuditEntry
from kiosk.store.operators import OperatorDirectory
from tests.helpers import wait_for

ADMIN = Operator("root", Role.ADMIN)


def base(hub: Hub) -> str:
    return f"http://127.0.0.1:{hub.config['http.port']}"


@pytest.fixture
def station(hub: Hub) -> ApiClient:
    """This machine's station (the token the hub made in secrets/)."""
    token = local_station_token(hub.config.data_dir, create=False)
    assert token
    client = ApiClient(base(hub), token)
    yield client
    client.close()


@pytest.fixture
def roster(hub: Hub) -> list[str]:
    members = [f"AB{1000000 + i}" for i in range(6)]
    for number in members:
        hub.lockers.add_member(number, f"Member {number}", "Maths", ADMIN)
    return members


def raw(hub: Hub, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", hub.config["http.port"], timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        connection.close()


def audit_actions(hub: Hub) -> list[tuple[str, str, str]]:
    with Session(hub.engine) as session:
        return [(a.actor, a.action, a.detail) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_the_desk_works_through_the_api_and_answers_what_changed(hub: Hub, station: ApiClient,
                                                                 roster: list[str]) -> None:
    desk = RemoteLockers(station)
    done = desk.assign(roster[0])
    change = desk.last_change
    assert change is not None and change.action == "assign" and change.by == "front desk"
    assert [s.number for s in change.lockers] == [done.locker] and change.lockers[0].member == roster[0]
    assert change.counts is not None and change.counts.in_use == 1
    board = {s.number: s for s in desk.board()}
    assert board[done.locker].member == roster[0] and board[done.locker].name == f"Member {roster[0]}"
    with pytest.raises(AlreadyAssigned) as again:
        desk.assign(roster[0])
    assert again.value.locker == done.locker and f"already has locker {done.locker}" in str(again.value)
    with pytest.raises(ApiError) as raw_refusal:
        station.post("/lockers/assign", {"scanned": roster[0]})
    assert (raw_refusal.value.status, raw_refusal.value.error) == (409, "already_assigned")
    assert raw_refusal.value.extra == {"locker": done.locker}
    released = desk.exit(roster[0])
    assert released.locker == done.locker and released.released_at is not None
    assert desk.member(roster[1]) is not None and desk.member("AB9999999") is None
    assert desk.member_count() == 6
    rows, more = desk.history(HistoryFilter(member=roster[0]))
    assert [r.member for r in rows] == [roster[0]] and not more


def test_no_token_a_wrong_one_and_a_device_token_are_refused_in_one_shape(hub: Hub) -> None:
    status, body = raw(hub, "GET", "/api/v1/lockers")
    assert status == 401 and body["error"] == "unauthorized" and body["success"] is False
    assert "station token" in body["message"]
    status, body = raw(hub, "GET", "/api/v1/lockers", headers={"Authorization": "Bearer nope"})
    assert (status, body["error"]) == (401, "unauthorized")
    stall, stall_token = hub.registry.create("Stall 1", "stall", "test")
    status, body = raw(hub, "GET", "/api/v1/lockers", headers={"Authorization": f"Bearer {stall_token}"})
    assert status == 401, "a stall sensor's token is not a station's"
    remote, remote_token = hub.registry.create("Desk 2", "station", "test")
    client = ApiClient(base(hub), remote_token)
    try:
        assert client.get("/whoami")["station"] == "Desk 2"
        hub.registry.revoke(remote.id, "test")
        with pytest.raises(ApiError) as refused:
            client.get("/lockers")
        assert refused.value.status == 401
    finally:
        client.close()


def test_every_input_is_checked_and_the_field_named(hub: Hub, station: ApiClient, roster: list[str]) -> None:
    token = station._token
    auth = {"Authorization": f"Bearer {token}"}
    status, body = raw(hub, "POST", "/api/v1/lockers/assign", b'{"locker": 3}', auth)
    assert (status, body["error"], body["field"]) == (400, "invalid", "scanned")
    status, body = raw(hub, "POST", "/api/v1/lockers/assign", b'{"scanned": 12}', auth)
    assert (status, body["field"]) == (400, "scanned") and "text" in body["message"]
    status, body = raw(hub, "POST", "/api/v1/lockers/assign", b'{"scanned": "AB1000000", "locker": "x"}', auth)
    assert (status, body["field"]) == (400, "locker")
    status, body = raw(hub, "POST", "/api/v1/lockers/assign", b"not json", auth)
    assert (status, body["field"]) == (400, "body")
    status, body = raw(hub, "POST", "/api/v1/lockers/assign", b'{"scanned": "\\ud800"}', auth)
    assert (status, body["field"]) == (400, "body") and "surrogate" in body["message"]
    status, body = raw(hub, "GET", "/api/v1/lockers/history?locker=seven", headers=auth)
    assert (status, body["field"]) == (400, "locker")
    status, body = raw(hub, "POST", "/api/v1/lockers/assign",
                       json.dumps({"scanned": "A" * 100_000}).encode(), auth)
    assert status == 413 and body["error"] == "too_large" and body["success"] is False
    status, body = raw(hub, "GET", "/api/v1/nothing-here", headers=auth)
    assert status == 404 and body["error"] == "not_found"
    with pytest.raises(LockerError, match=r"^There is no locker 999\.$"):
        RemoteLockers(station).assign(roster[0], locker=999)


def test_admin_actions_need_an_admin_session_staff_is_refused_and_audited(hub: Hub, station: ApiClient,
                                                                          roster: list[str]) -> None:
    directory = OperatorDirectory(hub.engine)
    directory.add("root", Role.ADMIN, "correct horse", None)
    directory.add("sam", Role.STAFF, "staff pass", ADMIN)
    desk = RemoteLockers(station)
    held = desk.assign(roster[0])
    with pytest.raises(PermissionError, match="needs an admin signed in"):
        desk.force_exit(held.locker, "lost key")
    operators = RemoteOperators(station)
    with pytest.raises(SignInRefused, match="Wrong name or password"):
        operators.sign_in("root", "wrong")
    operators.sign_in("sam", "staff pass")
    with pytest.raises(PermissionError, match="sam is a staff account"):
        desk.force_exit(held.locker, "lost key")
    assert any(a == ("sam", "api.refused", "at this machine") for a in audit_actions(hub))
    operators.sign_out()
    assert operators.sign_in("root", "correct horse") == ADMIN
    forced = desk.force_exit(held.locker, "lost key")
    assert forced.release_kind == "force" and desk.last_change is not None and desk.last_change.by == "root"
    stale = station.session_token
    operators.sign_out()
    station.session_token = stale
    with pytest.raises(PermissionError, match="session is not known"):
        desk.set_out_of_order(held.locker, True, "hinge")
    actions = [a[1] for a in audit_actions(hub)]
    assert actions.count("session.open") == 2 and actions.count("session.close") == 2


def test_a_session_is_bound_to_its_station(hub: Hub, station: ApiClient) -> None:
    OperatorDirectory(hub.engine).add("root", Role.ADMIN, "correct horse", None)
    RemoteOperators(station).sign_in("root", "correct horse")
    _, other_token = hub.registry.create("Desk 2", "station", "test")
    other = ApiClient(base(hub), other_token)
    other.session_token = station.session_token
    try:
        with pytest.raises(ApiError) as refused:
            other.call("GET", "/whoami", session=True)
        assert refused.value.error == "bad_session" and "another station" in refused.value.message
    finally:
        other.close()


def test_first_admin_only_while_there_is_none(hub: Hub, station: ApiClient) -> None:
    operators = RemoteOperators(station)
    assert operators.count() == 0
    assert operators.add("first", Role.ADMIN, "long enough pw", None) == Operator("first", Role.ADMIN)
    assert operators.count() == 1
    with pytest.raises(ValueError, match="has its admin already"):
        RemoteOperators(station).add("second", Role.ADMIN, "long enough pw", None)


def test_changes_reach_another_station_within_200_ms(hub: Hub, station: ApiClient, roster: list[str]) -> None:
    _, other_token = hub.registry.create("Desk 2", "station", "test")
    other = ApiClient(base(hub), other_token)
    heard: list[tuple[float, dict[str, Any]]] = []
    states: list[tuple[bool, str]] = []
    got = threading.Event()

    def on_event(event: dict[str, Any]) -> None:
        heard.append((time.perf_counter(), event))
        if event["topic"] == "lockers":
            got.set()

    stream = EventStream(other.websocket_target, on_event, lambda up, why: states.append((up, why)))
    stream.start()
    try:
        assert stream.connected.wait(5)
        wait_for(lambda: any(e["topic"] == "hello" for _, e in heard))
        hello = next(e for _, e in heard if e["topic"] == "hello")
        assert hello["data"]["station"] == "Desk 2" and hello["data"]["hub"]
        done = RemoteLockers(station).assign(roster[0])
        made = time.perf_counter()  # the change is made: the first station has its answer
        assert got.wait(2)
        at, event = next((t, e) for t, e in heard if e["topic"] == "lockers")
        assert at - made < 0.2, f"the change took {(at - made) * 1000:.0f} ms more to reach the other station"
        assert event["data"]["lockers"][0]["number"] == done.locker
        assert event["data"]["lockers"][0]["member"] == roster[0] and event["seq"] > hello["seq"]
    finally:
        stream.stop()
        other.close()
    assert states[0] == (True, "connected")


def test_an_event_stream_needs_a_station_token(hub: Hub) -> None:
    states: list[tuple[bool, str]] = []
    client = ApiClient(base(hub), "wrong")
    stream = EventStream(client.websocket_target, lambda e: None, lambda up, why: states.append((up, why)))
    stream.start()
    try:
        wait_for(lambda: states)
    finally:
        stream.stop()
    assert states[0][0] is False and "401" in states[0][1] and "station token" in states[0][1]


def test_a_window_or_cli_change_is_announced_to_stations(hub: Hub, station: ApiClient, roster: list[str]) -> None:
    """A change that did not come through the API (the hub's own window, the CLI writing the database) still
    reaches the stations: the locker service announces it."""
    heard: list[dict[str, Any]] = []
    stream = EventStream(station.websocket_target, heard.append, lambda up, why: None)
    stream.start()
    try:
        assert stream.connected.wait(5)
        wait_for(lambda: heard)
        hub.lockers.assign(roster[1], Operator("front desk", Role.STAFF))
        hub.locker_service.changed()
        wait_for(lambda: any(e["topic"] == "lockers" and e["data"]["action"] == "changed" for e in heard))
    finally:
        stream.stop()


def test_history_export_streams_csv_and_statistics_come_back_typed(hub: Hub, station: ApiClient,
                                                                   roster: list[str], tmp_path: Path) -> None:
    desk = RemoteLockers(station)
    for member in roster[:3]:
        desk.assign(member)
    out = tmp_path / "history.csv"
    progress: list[int] = []
    with out.open("w", encoding="utf-8", newline="") as handle:
        assert desk.export_history(HistoryFilter(), handle, progress.append) == 3
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and progress == [3]
    now = time.time()
    figures = desk.statistics(now - 3600, now + 60)
    assert figures.assignments == 3 and figures.now.in_use == 3 and len(figures.per_hour) == 24


def test_roster_preview_and_import(hub: Hub, station: ApiClient, roster: list[str]) -> None:
    desk = RemoteLockers(station)
    preview = desk.preview_roster("enrollment,name,programme\nCD1234567,Ada,Physics\nAB1000000,Known,X\nbad,Y,Z\n")
    assert [r.enrollment for r in preview.new] == ["CD1234567"] and len(preview.known) == 1
    assert len(preview.errors) == 1
    assert desk.import_roster(preview) == 1
    assert desk.member("CD1234567") is not None
    assert ("front desk", "member.import", "1 added, 1 known, 1 refused") in audit_actions(hub)


def test_openapi_document_is_served_and_kept_in_docs(hub: Hub) -> None:
    status, served = raw(hub, "GET", "/api/v1/openapi.json")
    assert status == 200
    kept = json.loads((Path(__file__).parents[2] / "docs" / "api" / "openapi.json").read_text(encoding="utf-8"))
    assert served == kept, "docs/api/openapi.json is stale: run `python -m kiosk.services.api.document`"
    assert hub.api is not None
    for route in hub.api.api.routes:
        path = "/api/v1" + re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
        operation = served["paths"][path][route.method.lower()]
        assert operation["summary"] and "200" in operation["responses"]


def test_a_hub_that_is_not_there_is_said_in_words() -> None:
    from tests.helpers import free_port

    client = ApiClient(f"http://127.0.0.1:{free_port()}", "token")
    with pytest.raises(HubUnreachable, match="no hub answers"):
        client.get("/lockers")


def test_a_disabled_operator_loses_the_session_at_once(hub: Hub, station: ApiClient, roster: list[str]) -> None:
    directory = OperatorDirectory(hub.engine)
    directory.add("root", Role.ADMIN, "correct horse", None)
    directory.add("kim", Role.ADMIN, "second admin", ADMIN)
    RemoteOperators(station).sign_in("kim", "second admin")
    desk = RemoteLockers(station)
    held = desk.assign(roster[0])
    directory.disable("kim", ADMIN)
    with pytest.raises(PermissionError, match="account changed since the sign-in"):
        desk.force_exit(held.locker, "lost key")
    assert hub.api is not None and hub.api.sessions.count() == 0


def test_the_cli_goes_through_a_running_hub_and_stations_hear_it_within_200_ms(hub: Hub, station: ApiClient,
                                                                               tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    heard: list[tuple[float, dict[str, Any]]] = []
    stream = EventStream(station.websocket_target, lambda e: heard.append((time.perf_counter(), e)),
                         lambda up, why: None)
    stream.start()
    roster = tmp_path / "roster.csv"
    roster.write_text("enrollment,name,programme\nCD1234567,Ada,Physics\nCD1234568,Alan,Maths\n", encoding="utf-8")
    env = {**os.environ, "KIOSK_CONFIG_DIR": str(tmp_path / "cli-config")}
    try:
        assert stream.connected.wait(5)
        result = subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(hub.config.data_dir), "lockers",
                                 "import-roster", str(roster), "--yes"], capture_output=True, text=True, env=env,
                                timeout=60)
        finished = time.perf_counter()
        assert result.returncode == 0, result.stderr
        assert "added 2 members (through the running hub)" in result.stdout
        wait_for(lambda: any(e["topic"] == "lockers" and e["data"]["action"] == "roster_import" for _, e in heard))
    finally:
        stream.stop()
    at, event = next((t, e) for t, e in heard if e["topic"] == "lockers")
    assert at - finished < 0.2, "the CLI's change reached the station after the CLI had finished, and late"
    assert event["data"]["by"].startswith("cli")
    assert any(actor.startswith("cli") and action == "member.import" for actor, action, _ in audit_actions(hub))
    assert RemoteLockers(station).member("CD1234568") is not None


def test_energy_through_the_api(hub: Hub, station: ApiClient) -> None:
    from kiosk.client.energy import RemoteEnergy
    from kiosk.core.energy import PortStatus

    info, token = hub.registry.create("Meter 1", "energy", "test")
    port = hub.energy_store.add_port(info.id, "Printer", "test")
    now = time.time()
    for n in range(5):
        status, _ = raw(hub, "POST", "/api/sensor/reading", json.dumps(
            {"deviceToken": token, "portId": port.id, "voltage": 230.0, "current": (23.0 + n) / 230, "power": 23.0 + n,
             "seq": n + 1}).encode())
        assert status == 200, _
    energy = RemoteEnergy(station)
    rows = energy.port_rows()
    assert [(r["id"], r["name"], r["device"]) for r in rows] == [(port.id, "Printer", "Meter 1")]
    assert isinstance(rows[0]["status"], PortStatus)
    live = energy.live(port.id, now - 60)
    assert [w for _, w in live] == [23.0, 24.0, 25.0, 26.0, 27.0]
    series = energy.series(port.id, now - 3600, now + 60)
    assert series.tier and len(series.xs) == len(series.mean) and max(series.high) == 27.0
    with pytest.raises(ApiError) as missing:
        energy.series("no-such-port", now - 60, now)
    assert (missing.value.status, missing.value.error) == (404, "not_found")
    with pytest.raises(ApiError) as backwards:
        energy.series(port.id, now, now - 60)
    assert backwards.value.field == "until"
    notice = hub.energy_store.notify("phantom", port.id, "Printer draws 23 W after hours", "standby", watts=23.0)
    assert [n.id for n in energy.notifications()] == [notice]
    energy.acknowledge(notice)
    assert energy.notifications() == []
    assert ("front desk", "notification.ack", "Printer draws 23 W after hours") in audit_actions(hub)
    with pytest.raises(ApiError) as unknown:
        energy.acknowledge(99999)
    assert unknown.value.status == 404


def test_a_station_token_opens_the_api_but_not_the_broker(hub: Hub, station: ApiClient) -> None:
    from tests.helpers import connect

    info, token = hub.registry.create("Desk 2", "station", "test")
    device = connect(hub.config["broker.port"], info.id, token)
    try:
        assert device.rc != 0, "a station's token must not log in to MQTT"
    finally:
        device.close()
    client = ApiClient(base(hub), token)
    try:
        assert client.get("/whoami")["station"] == "Desk 2"
    finally:
        client.close()


def test_a_wall_display_reads_the_stalls_and_counts_and_never_a_members_name(hub: Hub, station: ApiClient,
                                                                             roster: list[str]) -> None:
    _, display_token = hub.registry.create("Lobby", "display", "test")
    display = ApiClient(base(hub), display_token)
    heard: list[dict[str, Any]] = []
    stream = EventStream(display.websocket_target, heard.append, lambda up, why: None)
    try:
        assert display.get("/stalls") == []
        assert display.get("/lockers/counts")["free"] > 0
        for path in ("/lockers", "/members", "/lockers/history", "/devices", "/whoami"):
            with pytest.raises(ApiError) as refused:
                display.get(path)
            assert refused.value.status == 401, path
        stream.start()
        assert stream.connected.wait(5)
        wait_for(lambda: any(e["topic"] == "hello" for e in heard))
        done = RemoteLockers(station).assign(roster[0])
        wait_for(lambda: any(e["topic"] == "lockers" for e in heard))
        [event] = [e for e in heard if e["topic"] == "lockers"]
        assert event["data"] == {"counts": {"free": event["data"]["counts"]["free"], "in_use": 1, "overdue": 0,
                                            "out_of_order": 0}}
        assert roster[0] not in json.dumps(heard) and done.locker > 0
    finally:
        stream.stop()
        display.close()


def test_a_connected_display_or_station_is_listed_online_and_offline_when_it_leaves(hub: Hub) -> None:
    """Screens speak to the hub over its API, not MQTT: the device list said "never seen" for a wall display that
    was showing the stalls. Following the event stream is being online; closing it is going offline (not "no
    signal": a display switched off at night raises no notice)."""
    from kiosk.core.devices import Online

    info, token = hub.registry.create("Wall by the lifts", "display", "test")
    hub.device_added(info)
    assert hub.ingest.tracker.get(info.id).online is Online.NEVER
    client = ApiClient(base(hub), token)
    stream = EventStream(client.websocket_target, lambda event: None, lambda up, detail: None)
    stream.start()
    try:
        wait_for(lambda: hub.ingest.tracker.get(info.id).online is Online.ONLINE, timeout=5)
        assert hub.ingest.tracker.get(info.id).last_seen is not None
    finally:
        stream.stop()
        client.close()
    wait_for(lambda: hub.ingest.tracker.get(info.id).online is Online.OFFLINE, timeout=5)
    assert [n for n in hub.energy_store.notifications() if n.subject == info.id] == []


def test_staff_signed_in_at_the_desk_are_named_in_the_audit_log_and_get_no_admin_rights(
        hub: Hub, station: ApiClient, roster: list[str]) -> None:
    directory = OperatorDirectory(hub.engine)
    directory.add("root", Role.ADMIN, "correct horse", None)
    directory.add("sam", Role.STAFF, "staff pass", ADMIN)
    desk = RemoteLockers(station)
    signin = desk.desk_signin
    with pytest.raises(SignInRefused, match="Wrong name or password"):
        signin.sign_in("sam", "wrong")
    assert signin.sign_in("sam", "staff pass") == Operator("sam", Role.STAFF) and signin.who == "sam"
    held = desk.assign(roster[0])
    assert desk.last_change is not None and desk.last_change.by == "sam"
    desk.add_member("AB2000000", "Walk In", "")
    assert ("sam", "member.add") in [(actor, action) for actor, action, _ in audit_actions(hub)]
    with pytest.raises(PermissionError, match="needs an admin signed in"):
        desk.force_exit(held.locker, "lost key")  # the desk's sign-in is not an admin's session
    assert signin.sign_in("root", "correct horse") == Operator("root", Role.STAFF), "an admin at the desk is staff"
    with pytest.raises(PermissionError):
        desk.force_exit(held.locker, "lost key")
    assert hub.api is not None
    for record in hub.api.sessions._by_hash.values():
        record.used_at -= 3 * 3600  # desk.signin_idle_s (2 h) without a desk change
    desk.exit(roster[0])  # not refused: it goes as the front desk, and the desk is told the sign-in ended
    assert desk.last_change is not None and desk.last_change.by == "front desk"
    assert "sign in again" in signin.ended() and signin.who is None
    assert signin.ended() == "", "said once"
    actions = [(actor, action) for actor, action, _ in audit_actions(hub)]
    assert ("sam", "session.close") in actions and ("root", "session.expired") in actions
