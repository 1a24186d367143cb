from pathlib import Path

import pytest

from kiosk.client.pin_file import read_pin_hash, write_pin_hash
from kiosk.core.pin import LOCKOUT_S, MAX_FAILURES, PinError, PinGate, check_new_pin, hash_pin, verify_pin


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


def old_scrypt_hash(secret: str) -> str:
    """A hash as the kiosk wrote them before argon2id (scrypt N=2^14, r=8, p=1)."""
    import hashlib
    import os

    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${2**14}$8$1${salt.hex()}${digest.hex()}"


def test_new_hashes_are_argon2id_with_owasp_parameters() -> None:
    stored = hash_pin("482913")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    from kiosk.core.pin import needs_rehash

    assert not needs_rehash(stored)


def test_an_old_scrypt_pin_still_opens_and_is_rehashed_at_once() -> None:
    from kiosk.core.pin import needs_rehash

    stored = [old_scrypt_hash("482913")]
    assert verify_pin("482913", stored[0]) and needs_rehash(stored[0])
    gate = PinGate(lambda: stored[0], rehashed=lambda new: stored.__setitem__(0, new))
    assert not gate.check("000000") and stored[0].startswith("scrypt$")  # a wrong PIN changes nothing
    assert gate.check("482913")
    assert stored[0].startswith("$argon2id$") and verify_pin("482913", stored[0])
