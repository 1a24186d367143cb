"""Who may connect to the embedded broker and which topics each may use.

The amqtt plugins in `plugins.py` delegate here. Devices log in with username = device id and password = token
(checked against the registry in a worker thread so the loop never blocks); the hub's own clients use the internal
account, whose password is generated at first start and kept in a file only its owner can read.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.devices import LogLimiter
from kiosk.core.throttle import FailureThrottle
from kiosk.protocol.legacy import legacy_may_use, valid_name
from kiosk.protocol.topics import STATE_PREFIX, device_may_use
from kiosk.store.devices import LEGACY_PREFIX, DeviceRegistry, LegacyAdmission, LoginFailure

log = logging.getLogger(__name__)

INTERNAL_USERNAME = "kiosk-internal"
DISPLAY_KIND = "display"
STATION_KIND = "station"
STATION_LOGIN = "station token (for the hub's API, not MQTT)"
INTERNAL_SECRET_FILE = "internal-broker-password"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def internal_credentials(data_dir: Path) -> Credentials:
    """The hub's internal broker account; the password file is created 0600 on first use."""
    path = Path(data_dir) / INTERNAL_SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        password = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        password = ""
    if not password:
        password = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return Credentials(INTERNAL_USERNAME, password)


@dataclass(frozen=True)
class DeviceGrant:
    device_id: str
    organization: str
    kind: str = ""


LEGACY_PENDING_CAP = 50  # stalls.legacy_max_pending
TOO_MANY_FAILURES = "too many failed logins"
LEGACY_FULL = "too many pending boards"
LEGACY_MOVED = "board name used from another address"


class Gatekeeper:
    """Authentication and topic ACL for the embedded broker; counts refused logins by reason.

    Failed logins slow down (kiosk.core.throttle): per source address and per username, a failure beyond the free
    ones is answered only after a growing delay; a good login is never held up. Refusals are logged once a minute
    per reason in total, with how many there were; each one's detail is at DEBUG."""

    def __init__(self, registry: DeviceRegistry, internal: Credentials,
                 clock: Callable[[], float] = time.time, legacy_stallsense: bool = False,
                 throttle: FailureThrottle | None = None, legacy_max_pending: int = LEGACY_PENDING_CAP) -> None:
        self._registry = registry
        self.legacy_stallsense = legacy_stallsense
        self.legacy_max_pending = legacy_max_pending
        self._legacy: set[str] = set()  # client ids of anonymous StallSense boards that logged in
        self._legacy_new: frozenset[str] = frozenset()  # new boards admitted that the hub has not stored yet
        self._legacy_lock = asyncio.Lock()
        self._internal = internal
        self._clock = clock
        self._grants: dict[str, DeviceGrant] = {}
        self._log_limiter = LogLimiter(clock)  # one line per reason per minute
        self.throttle = throttle if throttle is not None else FailureThrottle()
        self.refused: Counter[str] = Counter()
        self.accepted = 0
        # client id -> when it passed authentication (amqtt keeps failed logins as sessions too)
        self.logged_in: dict[str, float] = {}

    async def authenticate(self, username: str | None, password: str | None, client_id: str | None,
                           address: str | None = None) -> bool:
        """Whether this login may proceed; a refusal is counted, logged (rate-limited) and, for a key that keeps
        failing, answered late."""
        where = f"addr:{address}" if address else ""
        # The hub's own account is always checked: a flood of failures from this machine must not shut out its link.
        if where and username != self._internal.username and self.throttle.too_busy(where):
            self._refuse(TOO_MANY_FAILURES, username, client_id, address)
            return False
        reason = await self._check(username, password, client_id, address)
        if reason is None:
            if username:
                self.throttle.succeeded(f"user:{username}")
            self._accept(client_id)
            return True
        self._refuse(reason, username, client_id, address)
        keys = [k for k in (where, f"user:{username if username is not None else client_id}") if k]
        delay = self.throttle.failed(*keys)
        if delay > 0:
            for key in keys:
                self.throttle.waiting(key, +1)
            try:
                await asyncio.sleep(delay)
            finally:
                for key in keys:
                    self.throttle.waiting(key, -1)
        return False

    async def _check(self, username: str | None, password: str | None, client_id: str | None,
                     address: str | None) -> str | None:
        """None when the login is good, else the reason it is refused."""
        if username == self._internal.username:
            ok = password is not None and hmac.compare_digest(password.encode(), self._internal.password.encode())
            return None if ok else LoginFailure.BAD_TOKEN.value
        if username is None and password is None and self.legacy_stallsense:
            return await self._legacy_login(client_id, address)
        try:
            result = await asyncio.to_thread(self._registry.check, username, password)
        except Exception as exc:  # a database error must refuse the login, not kill the connection handler
            log.error("device login check failed for %s: %s", username, exc)
            return "database error"
        if result.device is None:
            assert result.failure is not None
            return result.failure.value
        if result.device.kind == STATION_KIND:  # a desk station's token opens the hub's API, not the broker
            return STATION_LOGIN
        self._grants[result.device.id] = DeviceGrant(result.device.id, result.device.organization, result.device.kind)
        return None

    async def _legacy_login(self, client_id: str | None, address: str | None) -> str | None:
        """An anonymous StallSense board (legacy mode on): its client id is its name. Revoked boards stay out; a
        new board only while fewer than `legacy_max_pending` wait for an admin; a board assigned to a stall only
        from the address it was pinned to (an admin re-pairs a board that moved)."""
        if not valid_name(client_id):
            return "legacy board name not allowed"
        assert client_id is not None
        try:
            async with self._legacy_lock:  # one at a time: parallel logins must not overshoot the cap together
                admission, self._legacy_new = await asyncio.to_thread(
                    self._registry.legacy_admission, client_id, address, self.legacy_max_pending, self._legacy_new)
        except Exception as exc:
            log.error("legacy board check failed for %s: %s", client_id, exc)
            return "database error"
        if admission is not LegacyAdmission.ADMITTED:
            return {LegacyAdmission.REVOKED: LoginFailure.REVOKED.value, LegacyAdmission.FULL: LEGACY_FULL,
                    LegacyAdmission.MOVED: LEGACY_MOVED}[admission]
        self._legacy.add(client_id)
        return None

    def _accept(self, client_id: str | None) -> None:
        self.accepted += 1
        if client_id:
            self.logged_in[client_id] = time.monotonic()

    def _refuse(self, reason: str, username: str | None, client_id: str | None, address: str | None = None) -> None:
        self.refused[reason] += 1
        if client_id:
            self.logged_in.pop(client_id, None)
        source = f" from {address}" if address else ""
        log.debug("refused MQTT login (%s) username=%r client_id=%r%s", reason, username, client_id, source)
        may_log, held = self._log_limiter.allow(reason)
        if may_log:
            more = f"; {held} more refused for this reason since the last report" if held else ""
            log.warning("refused MQTT login (%s) username=%r client_id=%r%s%s", reason, username, client_id, source,
                        more)

    def may_use(self, username: str | None, topic: str, subscribing: bool, client_id: str | None = None) -> bool:
        if username == self._internal.username:
            return True
        if username is None:
            return (self.legacy_stallsense and client_id in self._legacy
                    and legacy_may_use(client_id, topic, subscribing))
        grant = self._grants.get(username or "")
        if grant is None:
            return False
        if grant.kind == DISPLAY_KIND:  # a wall display reads the hub's derived state, nothing else
            return subscribing and topic.startswith(STATE_PREFIX + "/")
        return device_may_use(grant.device_id, grant.organization, topic, subscribing)

    def prune_logins(self, present: set[str], grace_s: float = 30.0) -> None:
        """Forget logins whose session is gone; recent ones stay (amqtt registers a session after login)."""
        limit = time.monotonic() - grace_s
        for client_id, at in list(self.logged_in.items()):
            if at < limit and client_id not in present:
                self.logged_in.pop(client_id, None)

    def forget(self, device_id: str) -> None:
        self._grants.pop(device_id, None)
        if device_id.startswith(LEGACY_PREFIX):
            self._legacy.discard(device_id[len(LEGACY_PREFIX):])

    def is_internal(self, username: str | None) -> bool:
        """The hub's own account (its link, the CLI): its messages are not device messages."""
        return username == self._internal.username

    def is_device(self, username: str | None) -> bool:
        return bool(username) and username in self._grants
