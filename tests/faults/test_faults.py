"""Faults from outside, counted (bench/faults.py, short versions): `kiosk --headless` in its own process, real paho
publishers with sequence numbers, then the rows counted. The bar: 0 acknowledged readings lost, 0 duplicates."""

from pathlib import Path

import pytest

from bench import faults

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def check(outcome: faults.Outcome) -> None:
    print(faults.table([outcome]))
    assert outcome.count.acked > 0
    assert outcome.count.lost == 0, outcome
    assert outcome.count.duplicates == 0, outcome
    assert outcome.integrity == "ok"


def test_kill_9_of_the_hub_loses_no_acknowledged_reading(tmp_path: Path) -> None:
    check(faults.kill_hub(tmp_path, times=2, between=200))


def test_kill_9_of_the_broker_child_loses_no_acknowledged_reading(tmp_path: Path) -> None:
    check(faults.kill_broker(tmp_path, times=2, between=200))


def test_sigterm_at_full_speed_loses_no_acknowledged_reading(tmp_path: Path) -> None:
    check(faults.sigterm_at_saturation(tmp_path, times=1, between=1000))


def test_a_locked_database_loses_nothing_and_health_says_so(tmp_path: Path) -> None:
    outcome = faults.locked_database(tmp_path, seconds=4)
    check(outcome)
    assert "health degraded" in outcome.notes


def test_fuzzed_input_between_good_readings_loses_nothing(tmp_path: Path) -> None:
    check(faults.fuzz(tmp_path, messages=600))


@pytest.mark.skipif(not faults.can_mount(), reason="needs root to mount a small tmpfs")
def test_a_full_disk_acknowledges_nothing_it_cannot_keep_and_recovers(tmp_path: Path) -> None:
    outcome = faults.full_disk(tmp_path, seconds=5)
    check(outcome)
    assert outcome.notes.startswith("0 acks while full") and "health degraded" in outcome.notes
