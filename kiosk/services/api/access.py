"""Who may call the API: stations by their token, operators by a session opened at a station.

- A **station** sends `Authorization: Bearer <token>`: this machine's own station token (made at the first start in
  `secrets/station.token`, readable by the kiosk's user only: the desk window and the CLI on the hub's machine use
  it) or the token of a device of kind `station` (a second desk, `kiosk --station --hub URL`). A station acts as its
  front desk: staff rights.
- **This machine's CLI** sends the CLI token (`secrets/cli.token`, made at the hub's start, owner-only) with
  `X-Kiosk-Actor: cli:USER`: it acts as an admin named `cli:USER` in the audit log, as it always has (whoever can
  read the data folder can change the database). The desk window never sends it.
- An **operator** signs in at a station (`POST /api/v1/sessions` with name and password) and gets a session token,
  sent as `X-Kiosk-Session` beside the station's own token (a session is bound to the station that opened it: a
  session token alone opens nothing). Sessions end after `admin.idle_lock_s` without a call, after
  `SESSION_MAX_AGE_S` in any case, when signed out, when the operator is disabled, and when the hub stops (they live
  in memory only). Opening, ending and refusing are audited.

Wrong station tokens and wrong passwords slow down per address (kiosk.core.throttle), as MQTT logins do.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kiosk.client.local_hub import CLI_TOKEN_FILE, STATION_TOKEN_FILE
from kiosk.core.operators import Operator, Role
from kiosk.core.throttle import FailureThrottle
from kiosk.protocol.api import ACTOR_HEADER, SESSION_HEADER, ApiError
from kiosk.services.api.framework import DISPLAY, PUBLIC, Principal
from kiosk.services.http import answer_late

log = logging.getLogger(__name__)

STATION_KIND = "station"
DISPLAY_KIND = "display"
LOCAL_STATION = "this machine"
SESSION_PREFIX = "kss_"
SESSION_MAX_AGE_S = 12 * 3600.0
DESK_NAME = "front desk"
DESK_IDLE_S = 7200.0
CLI_ACTOR = re.compile(r"cli(:[A-Za-z0-9._-]{1,32})?")
CLI_SESSION = "cli"  # the session id of the CLI's calls (it signs in with its token, not a password)


def local_station_token(data_dir: Path, create: bool = True, name: str = STATION_TOKEN_FILE,
                        prefix: str = "kst_") -> str | None:
    """This machine's station token (made on first use, owner-only); None if it does not exist and `create` is
    False. With `name=CLI_TOKEN_FILE` and its own prefix: the CLI's token."""
    folder = data_dir / "secrets"
    path = folder / name
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            return None
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = prefix + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return token


def local_cli_token(data_dir: Path, create: bool = True) -> str | None:
    """The CLI's admin token on this machine (see the module's docstring)."""
    return local_station_token(data_dir, create, CLI_TOKEN_FILE, "kca_")


def desk_operator(station: str) -> Operator:
    """Who a station's front desk acts as in the audit log."""
    return Operator(DESK_NAME if station == LOCAL_STATION else f"{DESK_NAME} ({station})", Role.STAFF)


@dataclass
class SessionRecord:
    id: str
    operator: Operator
    station: str
    station_key: str  # hash of the station token that opened it
    opened_at: float
    used_at: float
    desk: bool = False  # signed in at the desk: acts as staff under its own name, never as an admin

    @property
    def acting(self) -> Operator:
        """Who the calls this session carries act as."""
        return Operator(self.operator.name, Role.STAFF) if self.desk else self.operator


class Sessions:
    """Operator sessions, in memory, by the SHA-256 of their token."""

    def __init__(self, idle_s: Callable[[], float], audit: Callable[[str, str, str, str], None],
                 clock: Callable[[], float] = time.time, max_age_s: float = SESSION_MAX_AGE_S,
                 desk_idle_s: Callable[[], float] = lambda: DESK_IDLE_S) -> None:
        self._idle_s = idle_s
        self._desk_idle_s = desk_idle_s
        self._audit = audit  # (actor, action, target, detail)
        self._clock = clock
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._by_hash: dict[str, SessionRecord] = {}

    def open(self, operator: Operator, station: str, station_token: str,
             desk: bool = False) -> tuple[str, SessionRecord]:
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        record = SessionRecord(secrets.token_hex(6), operator, station, _digest(station_token), now, now, desk)
        with self._lock:
            self._by_hash[_digest(token)] = record
        self._audit(operator.name, "session.open", record.id, f"at {station}" + (", at the desk" if desk else ""))
        return token, record

    def idle_limit(self, record: SessionRecord) -> float:
        return self._desk_idle_s() if record.desk else self._idle_s()

    def check(self, token: str, station_token: str) -> SessionRecord:
        """The live session this token opens from this station; ApiError 401 otherwise."""
        now = self._clock()
        ended = None
        with self._lock:
            record = self._by_hash.get(_digest(token))
            if record is None:
                raise ApiError(401, "bad_session", "this session is not known (signed out, or the hub restarted): "
                                                   "sign in again")
            if not hmac.compare_digest(record.station_key, _digest(station_token)):
                raise ApiError(401, "bad_session", "this session was opened at another station")
            if now - record.used_at > self.idle_limit(record) or now - record.opened_at > self._max_age_s:
                del self._by_hash[_digest(token)]
                ended = record
            else:
                record.used_at = now
        if ended is not None:
            self._audit(ended.operator.name, "session.expired", ended.id, f"at {ended.station}")
            raise ApiError(401, "session_expired", "the session ended after a time without use: sign in again")
        return record

    def close(self, token: str) -> SessionRecord | None:
        with self._lock:
            record = self._by_hash.pop(_digest(token), None)
        if record is not None:
            self._audit(record.operator.name, "session.close", record.id, f"at {record.station}")
        return record

    def end_operator(self, name: str, why: str) -> int:
        """End every session of an operator (disabled, role or password changed)."""
        with self._lock:
            gone = [(key, r) for key, r in self._by_hash.items() if r.operator.name == name]
            for key, _ in gone:
                del self._by_hash[key]
        for _, record in gone:
            self._audit(record.operator.name, "session.ended", record.id, why)
        return len(gone)

    def sweep(self) -> int:
        """Forget the sessions past their idle or age limit (the hub's ticker calls this)."""
        now = self._clock()
        with self._lock:
            gone = [(key, r) for key, r in self._by_hash.items()
                    if now - r.used_at > self.idle_limit(r) or now - r.opened_at > self._max_age_s]
            for key, _ in gone:
                del self._by_hash[key]
        for _, record in gone:
            self._audit(record.operator.name, "session.expired", record.id, f"at {record.station}")
        return len(gone)

    def count(self) -> int:
        with self._lock:
            return len(self._by_hash)


class Access:
    """Turns a request's tokens into a Principal, slowing down wrong tokens per address."""

    def __init__(self, local_token: str, check_device_token: Callable[[str], Any], sessions: Sessions,
                 throttle: FailureThrottle, current_operator: Callable[[str], Operator | None] = lambda n: None,
                 cli_token: str = "") -> None:
        self._local_digest = _digest(local_token)
        self._cli_digest = _digest(cli_token) if cli_token else ""
        self._current_operator = current_operator  # the account as it stands now (disabled, role changed)
        self._check_device_token = check_device_token  # token -> DeviceInfo | None (kiosk.store.devices)
        self.sessions = sessions
        self.throttle = throttle
        self.refused = 0

    def station(self, token: str, displays: bool = False) -> tuple[str, str | None, bool] | None:
        """(station name, station device id, a display's) this token belongs to; None if it is no station's (nor,
        with `displays`, a wall display's)."""
        if hmac.compare_digest(_digest(token), self._local_digest):
            return LOCAL_STATION, None, False
        info = self._check_device_token(token)
        if info is None or info.revoked:
            return None
        if info.kind == STATION_KIND:
            return info.name, info.id, False
        if displays and info.kind == DISPLAY_KIND:
            return info.name, info.id, True
        return None

    async def authenticate(self, request: web.Request, access: str) -> tuple[Principal | None, str, str]:
        if access == PUBLIC:
            return None, "", ""
        address = f"addr:{request.remote}"
        if self.throttle.too_busy(address):
            raise ApiError(429, "too_many_failures", "too many wrong tokens from this address; try again later")
        given = request.headers.get("Authorization", "")
        token = given[7:].strip() if given.startswith("Bearer ") else ""
        if not token:
            raise ApiError(401, "unauthorized", "this needs a station token: Authorization: Bearer <token>")
        if self._cli_digest and hmac.compare_digest(_digest(token), self._cli_digest):
            via = request.headers.get(ACTOR_HEADER, "")
            if not CLI_ACTOR.fullmatch(via):
                raise ApiError(401, "unauthorized", f"the CLI's token needs {ACTOR_HEADER}: cli:USER")
            return Principal(LOCAL_STATION, None, Operator(via, Role.ADMIN), CLI_SESSION), token, ""
        loop = asyncio.get_running_loop()
        station = await loop.run_in_executor(None, self.station, token, access == DISPLAY)
        if station is None:
            await self.failed(address)
            raise ApiError(401, "unauthorized", "the station token is not valid (wrong, revoked, expired, or not a "
                                                "station's)")
        name, station_id, reader = station
        if reader:
            return Principal(name, station_id, Operator(f"wall display ({name})", Role.STAFF), reader=True), token, ""
        session_token = request.headers.get(SESSION_HEADER, "").strip()
        if session_token:
            record = self.sessions.check(session_token, token)
            now = await loop.run_in_executor(None, self._current_operator, record.operator.name)
            if now != record.operator:  # disabled, or its role changed, since the sign-in
                self.sessions.end_operator(record.operator.name, "the account changed")
                raise ApiError(401, "bad_session", "this account changed since the sign-in (disabled or a new "
                                                   "role): sign in again")
            return Principal(name, station_id, record.acting, record.id), token, session_token
        via = request.headers.get(ACTOR_HEADER, "")
        if station_id is None and CLI_ACTOR.fullmatch(via):  # this machine's CLI, named as it names itself
            return Principal(name, None, Operator(via, Role.STAFF)), token, ""
        return Principal(name, station_id, desk_operator(name)), token, ""

    async def failed(self, address: str) -> None:
        """A wrong token or password from `address`: answered late once it has failed often (kiosk.core.throttle)."""
        self.refused += 1
        await answer_late(self.throttle, address)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
