"""The admin PIN: what unlocks editing at the front desk and leaving full screen on a wall display.

Stored only as a salted scrypt hash (memory-hard: 16 MiB per guess), compared in constant time. After
`MAX_FAILURES` wrong PINs in a row, no PIN is accepted for `LOCKOUT_S` seconds, so a six-digit PIN cannot be guessed
at a wall display by trying.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

N, R, P = 2**14, 8, 1
MIN_LENGTH = 6
MAX_FAILURES = 5
LOCKOUT_S = 60.0


class PinError(ValueError):
    """A PIN that cannot be set; the message says why."""


def check_new_pin(pin: str) -> None:
    if len(pin) < MIN_LENGTH or not pin.isdigit():
        raise PinError(f"The PIN must be at least {MIN_LENGTH} digits.")
    if len(set(pin)) == 1 or pin in "01234567890" or pin in "9876543210":
        raise PinError("That PIN is too easy to guess; avoid repeated or consecutive digits.")


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        actual = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(digest) // 2)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual.hex(), digest)


@dataclass
class PinGate:
    """Checks PINs against the stored hash with a lockout after repeated failures."""

    stored: Callable[[], str | None]
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    locked_until: float = 0.0

    def locked_for(self) -> float:
        return max(0.0, self.locked_until - self.clock())

    def check(self, pin: str) -> bool:
        if self.locked_for() > 0:
            return False
        stored = self.stored()
        if stored is not None and verify_pin(pin, stored):
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= MAX_FAILURES:
            self.failures = 0
            self.locked_until = self.clock() + LOCKOUT_S
        return False
