"""Stall fusion, debounce and staleness, with injected time."""

import pytest

from kiosk.core.stalls import Debounced, Reading, SensorRole, StallBoard, StallRules, StallState

RULES = StallRules(debounce_s=2.0, door_left_shut_s=600.0, missed_reports=3.0, report_interval_s=10.0)
DOOR, HEAT, BOARD = "door-1", "heat-1", "board-1"


def board(*sensors: tuple[str, SensorRole]) -> StallBoard:
    b = StallBoard(RULES)
    b.configure([7], [(device, 7, role) for device, role in sensors])
    return b


def state(b: StallBoard, now: float) -> StallState:
    return {v.stall_id: v for v in b.views(now)}[7].state


def test_a_stall_without_sensors_or_readings_has_no_signal() -> None:
    assert state(board(), 0) is StallState.NO_SIGNAL
    b = board((DOOR, SensorRole.DOOR))
    assert state(b, 0) is StallState.NO_SIGNAL
    assert b.views(0)[0].reason == "door sensor has not reported yet"


def test_no_signal_says_which_of_its_three_kinds_it_is() -> None:
    """No sensor yet, a revoked sensor (named), a silent one; after a hub restart a sensor heard from before is
    "silent", not "has not reported yet"."""
    b = StallBoard(RULES)
    b.configure([7], [], {7: "Stall sensor W-2"})
    assert b.views(0)[0].reason == "sensor Stall sensor W-2 revoked: assign another"
    b.configure([7], [])
    assert b.views(0)[0].reason == "no sensor assigned"
    b = StallBoard(RULES)
    b.configure([7], [(DOOR, 7, SensorRole.DOOR)], last_seen_of=lambda device: 1000.0)
    view = b.views(1100.0)[0]
    assert (view.state, view.reason, view.updated_at) == (StallState.NO_SIGNAL, "door sensor silent", 1000.0)


@pytest.mark.parametrize(("door", "heat", "expected"), [
    (False, None, StallState.VACANT),
    (False, True, StallState.VACANT),  # door open wins: nobody is locked in an open stall
    (True, True, StallState.OCCUPIED),
    (True, False, StallState.OCCUPIED),  # just closed, no heat yet: benefit of the doubt
])
def test_door_and_thermal_fusion(door: bool, heat: bool | None, expected: StallState) -> None:
    b = board((DOOR, SensorRole.DOOR), (HEAT, SensorRole.THERMAL))
    b.report(DOOR, Reading(door_closed=door), 0)
    b.report(HEAT, Reading(heat=bool(heat)), 0)
    assert state(b, 1) is expected


def test_a_closed_door_with_no_heat_for_the_configured_time_is_flagged() -> None:
    b = board((DOOR, SensorRole.DOOR), (HEAT, SensorRole.THERMAL))
    b.report(DOOR, Reading(door_closed=True), 0)
    b.report(HEAT, Reading(heat=False), 0)
    for t in range(10, 600, 10):  # both keep reporting every 10 s
        b.report(DOOR, Reading(door_closed=True), t)
        b.report(HEAT, Reading(heat=False), t)
    assert state(b, 599) is StallState.OCCUPIED
    b.report(DOOR, Reading(door_closed=True), 600)
    b.report(HEAT, Reading(heat=False), 600)
    view = b.views(600)[0]
    assert view.state is StallState.ATTENTION and view.reason == "door left shut"
    b.report(DOOR, Reading(door_closed=False), 605)  # someone opens it: vacant again
    assert state(b, 605) is StallState.VACANT


def test_legacy_boards_one_means_closed_for_a_door_and_heat_for_a_thermal_sensor() -> None:
    b = board((DOOR, SensorRole.DOOR), (HEAT, SensorRole.THERMAL))
    b.report(DOOR, Reading(occupied=True), 0)
    b.report(HEAT, Reading(occupied=True), 0)
    view = b.views(0)[0]
    assert (view.door_closed, view.heat, view.state) == (True, True, StallState.OCCUPIED)


def test_a_combined_board_verdict_is_used_when_it_gives_no_door_or_heat() -> None:
    b = board((BOARD, SensorRole.COMBINED))
    b.report(BOARD, Reading(occupied=True), 0)
    assert state(b, 0) is StallState.OCCUPIED
    b.report(BOARD, Reading(occupied=False), 5)
    assert state(b, 5) is StallState.VACANT


def test_a_thermal_only_stall() -> None:
    b = board((HEAT, SensorRole.THERMAL))
    b.report(HEAT, Reading(heat=True), 0)
    assert state(b, 0) is StallState.OCCUPIED
    b.report(HEAT, Reading(heat=False), 3)
    assert state(b, 3) is StallState.VACANT


def test_a_silent_sensor_means_no_signal_never_vacant() -> None:
    b = board((DOOR, SensorRole.DOOR))
    b.report(DOOR, Reading(door_closed=False), 0)
    assert state(b, 31) is StallState.VACANT  # three reports missed is 30 s, plus a second of grace
    view = b.views(31.5)[0]
    assert view.state is StallState.NO_SIGNAL and view.reason == "door sensor silent"
    assert view.updated_at == 0
    b.report(DOOR, Reading(door_closed=False), 40)
    assert state(b, 40) is StallState.VACANT


def test_one_silent_sensor_of_two_is_enough_for_no_signal() -> None:
    b = board((DOOR, SensorRole.DOOR), (HEAT, SensorRole.THERMAL))
    for t in range(0, 60, 10):
        b.report(DOOR, Reading(door_closed=False), t)
    b.report(HEAT, Reading(heat=False), 0)
    assert state(b, 50) is StallState.NO_SIGNAL


def test_staleness_follows_a_sensors_own_report_interval() -> None:
    b = StallBoard(RULES, interval_of=lambda device: 60.0)
    b.configure([7], [(DOOR, 7, SensorRole.DOOR)])
    b.report(DOOR, Reading(door_closed=False), 0)
    assert state(b, 100) is StallState.VACANT
    assert state(b, 182) is StallState.NO_SIGNAL


def test_debounce_takes_the_first_change_at_once_and_holds_back_flapping() -> None:
    signal = Debounced()
    assert signal.feed(True, 0.0, 2.0)
    assert not signal.feed(False, 0.5, 2.0)  # too soon after the last change: pending
    assert signal.value is True
    assert not signal.feed(True, 0.7, 2.0)  # flapped back: nothing pending any more
    assert not signal.settle(5.0, 2.0) and signal.value is True
    assert signal.feed(False, 10.0, 2.0)  # long after: immediate again
    assert not signal.feed(True, 10.5, 2.0)
    assert signal.settle(12.5, 2.0) and signal.value is True  # held for the debounce time: taken


def test_a_flapping_door_moves_the_tile_at_most_once_per_debounce_interval() -> None:
    b = board((DOOR, SensorRole.DOOR))
    changes = 0
    last = None
    for n in range(40):  # a reed switch chattering every 0.1 s for 4 s
        t = n * 0.1
        b.report(DOOR, Reading(door_closed=n % 2 == 0), t)
        now = state(b, t)
        if now is not last:
            changes, last = changes + 1, now
    assert changes <= 3


def test_the_board_reports_only_changes_and_keeps_since() -> None:
    b = board((DOOR, SensorRole.DOOR))
    first = b.report(DOOR, Reading(door_closed=True), 100)
    assert first is not None and first.state is StallState.OCCUPIED and first.since == 100
    again = b.report(DOOR, Reading(door_closed=True), 110)
    assert again is not None and again.since == 100 and again.updated_at == 110  # fresher, same state
    assert b.tick(111) == []
    assert b.report("someone-else", Reading(door_closed=False), 112) is None


def test_reassigning_sensors_keeps_what_the_stall_knew() -> None:
    b = board((DOOR, SensorRole.DOOR))
    b.report(DOOR, Reading(door_closed=True), 0)
    b.configure([7, 8], [(DOOR, 7, SensorRole.DOOR), (HEAT, 8, SensorRole.THERMAL)])
    assert {v.stall_id: v.state for v in b.views(1)} == {7: StallState.OCCUPIED, 8: StallState.NO_SIGNAL}
    assert b.stall_of(HEAT) == 8
    b.configure([8], [(HEAT, 8, SensorRole.THERMAL)])
    assert [v.stall_id for v in b.views(2)] == [8]
    assert b.stall_of(DOOR) is None
