"""Slowing down guessing: failed logins and wrong tokens, counted per source address and per name.

A key (an address, a username) that failed more than `free` times within `window_s` is *held*: its next failures are
answered only after a hold that doubles with each further failure (`hold_s` up to `max_hold_s`). A good login is
never held up: the callers check the credentials first and wait only before answering a failure. A key that keeps
too many failures waiting at once (`max_waiting`) is refused at once without a check, so one address cannot keep
the checks busy. Pure and clock-driven, shared by the broker (MQTT logins) and the HTTP server (device tokens).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Failures:
    count: int
    first_at: float
    held_until: float = 0.0
    waiting: int = 0


@dataclass
class ThrottleStats:
    held_keys: int = 0
    slowed: int = 0  # failures answered after a hold
    refused_unchecked: int = 0  # attempts refused without a check (too many waiting from one key)


@dataclass
class FailureThrottle:
    clock: Callable[[], float] = time.monotonic
    free: int = 10
    window_s: float = 60.0
    hold_s: float = 1.0
    max_hold_s: float = 30.0
    max_waiting: int = 20
    max_keys: int = 10_000
    _keys: dict[str, _Failures] = field(default_factory=dict)
    slowed: int = 0
    refused_unchecked: int = 0

    def hold(self, *keys: str) -> float:
        """Seconds a failure of these keys must wait before it is answered (0: answer at once)."""
        now = self.clock()
        return max([0.0, *(f.held_until - now for k in keys if (f := self._keys.get(k)) is not None)])

    def too_busy(self, key: str) -> bool:
        """This key has `max_waiting` failures waiting for their answer: refuse the next attempt unchecked."""
        entry = self._keys.get(key)
        busy = entry is not None and entry.waiting >= self.max_waiting
        if busy:
            self.refused_unchecked += 1
        return busy

    def failed(self, *keys: str) -> float:
        """Count one failure on each key; returns how long its answer must wait."""
        now = self.clock()
        for key in keys:
            entry = self._keys.get(key)
            if entry is None or (now - entry.first_at > self.window_s and now >= entry.held_until):
                if entry is None and len(self._keys) >= self.max_keys:
                    self._forget_old(now)
                entry = self._keys[key] = _Failures(0, now, 0.0, entry.waiting if entry else 0)
            entry.count += 1
            if entry.count > self.free:
                hold = min(self.max_hold_s, self.hold_s * 2 ** min(30, entry.count - self.free - 1))
                entry.held_until = max(entry.held_until, now + hold)
        wait = self.hold(*keys)
        if wait > 0:
            self.slowed += 1
        return wait

    def waiting(self, key: str, delta: int) -> None:
        entry = self._keys.get(key)
        if entry is not None:
            entry.waiting = max(0, entry.waiting + delta)

    def succeeded(self, key: str) -> None:
        """A good login under this name: its failures are forgotten (not an address's: others may share it)."""
        self._keys.pop(key, None)

    def stats(self) -> ThrottleStats:
        now = self.clock()
        return ThrottleStats(sum(1 for f in self._keys.values() if f.held_until > now), self.slowed,
                             self.refused_unchecked)

    def _forget_old(self, now: float) -> None:
        for key, entry in list(self._keys.items()):
            if now - entry.first_at > self.window_s and now >= entry.held_until and not entry.waiting:
                del self._keys[key]
        while len(self._keys) >= self.max_keys:  # all recent: drop the oldest
            del self._keys[next(iter(self._keys))]
