from pathlib import Path

import pytest

from kiosk.core.pin import LOCKOUT_S, MAX_FAILURES, PinError, PinGate, check_new_pin, hash_pin, verify_pin
from kiosk.store.admin_pin import read_pin_hash, write_pin_hash


def test_a_pin_is_stored_only_as_a_salted_hash() -> None:
    one, two = hash_pin("482913"), hash_pin("482913")
    assert one != two and "482913" not in one  # salted
    assert verify_pin("482913", one) and not verify_pin("482914", one)
    assert not verify_pin("482913", "garbage") and not verify_pin("482913", "md5$1$1$1$00$00")


@pytest.mark.parametrize("pin", ["12345", "abcdef", "111111", "123456", "987654"])
def test_weak_pins_are_refused_with_a_reason(pin: str) -> None:
    with pytest.raises(PinError):
        check_new_pin(pin)
    check_new_pin("482913")


def test_repeated_failures_lock_the_gate_for_a_while() -> None:
    now = [0.0]
    stored = hash_pin("482913")
    gate = PinGate(lambda: stored, clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        assert not gate.check("000000")
    assert gate.locked_for() == LOCKOUT_S
    assert not gate.check("482913")  # even the right PIN, while locked
    now[0] += LOCKOUT_S
    assert gate.check("482913")


def test_no_pin_set_accepts_nothing() -> None:
    assert not PinGate(lambda: None).check("482913")


def test_the_pin_file_is_private(tmp_path: Path) -> None:
    assert read_pin_hash(tmp_path) is None
    write_pin_hash(tmp_path, hash_pin("482913"))
    assert verify_pin("482913", read_pin_hash(tmp_path) or "")
    assert (tmp_path / "admin-pin").stat().st_mode & 0o077 == 0
