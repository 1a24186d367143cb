"""The admin PIN (what unlocks editing at the front desk and leaving full screen on a wall display) and the hashing
of every operator password.

Stored only as an argon2id hash (OWASP's minimum: 19 MiB, 2 passes, 1 lane; about 70 ms a check here), compared in
constant time by argon2-cffi. Hashes made before (scrypt N=2^14, below OWASP's minimum) still verify, and
`needs_rehash` tells the caller to store a new hash at the next successful sign-in. After `MAX_FAILURES` wrong PINs
in a row, no PIN is accepted for `LOCKOUT_S` seconds, so a six-digit PIN cannot be guessed at a wall display by
trying.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)  # argon2id, OWASP's minimum
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


def hash_pin(pin: str) -> str:
    return HASHER.hash(pin)


def verify_pin(pin: str, stored: str) -> bool:
    if stored.startswith("$argon2"):
        try:
            return HASHER.verify(stored, pin)
        except (VerificationError, InvalidHashError):
            return False
    return _verify_scrypt(pin, stored)


def needs_rehash(stored: str) -> bool:
    """A hash of an older kind or with weaker parameters: replace it when the secret is next given correctly."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify_scrypt(pin: str, stored: str) -> bool:
    """Hashes written before argon2id (`scrypt$N$r$p$salt$digest`)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        actual = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(digest) // 2, maxmem=128 * 1024 * 1024)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual.hex(), digest)


@dataclass
class PinGate:
    """Checks PINs against the stored hash with a lockout after repeated failures."""

    stored: Callable[[], str | None]
    clock: Callable[[], float] = time.monotonic
    rehashed: Callable[[str], None] | None = None  # stores a new hash for a PIN whose hash is of an older kind
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
            if self.rehashed is not None and needs_rehash(stored):
                self.rehashed(hash_pin(pin))
            return True
        self.failures += 1
        if self.failures >= MAX_FAILURES:
            self.failures = 0
            self.locked_until = self.clock() + LOCKOUT_S
        return False
