"""Operators signing in at a station through the API: the shape of the operator directory the admin session uses
(kiosk.ui.admin_session: `sign_in`, `count`, `add` for the first admin), plus `sign_out` to end the hub's session.

A refused sign-in raises `SignInRefused` with the hub's sentence ("Wrong name or password."), never which part was
wrong; a hub that cannot be reached raises kiosk.client.http.HubUnreachable.
"""

from __future__ import annotations

import time

from kiosk.client.http import ApiClient
from kiosk.core.operators import Operator, Role, SignInRefused
from kiosk.protocol.answers import HubInfo, SessionOpened
from kiosk.protocol.api import ApiError


class RemoteOperators:
    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.session_id: str | None = None

    def count(self) -> int:
        """0 while the hub still needs its first admin (the admin tab offers to make one), else 1."""
        info: HubInfo = self.client.get("/hub", HubInfo)
        return 0 if info.needs_first_admin else 1

    def sign_in(self, name: str, password: str) -> Operator:
        try:
            opened: SessionOpened = self.client.post("/sessions", {"name": name, "password": password}, SessionOpened)
        except ApiError as exc:
            if exc.status in (400, 401, 429):
                raise SignInRefused(exc.message) from None
            raise
        return self._opened(opened)

    def add(self, name: str, role: Role, password: str, by: Operator | None) -> Operator:
        """Only the first admin can be made from a station (accounts are managed in the Admin tab)."""
        if by is not None or role is not Role.ADMIN:
            raise PermissionError("Accounts are made in the Admin tab.")
        try:
            opened: SessionOpened = self.client.post("/operators/first-admin", {"name": name, "password": password},
                                               SessionOpened)
        except ApiError as exc:
            raise ValueError(exc.message) from None
        return self._opened(opened)

    def _opened(self, opened: SessionOpened) -> Operator:
        self.client.session_token = opened.token
        self.session_id = opened.id
        return opened.operator

    def sign_out(self) -> None:
        """End the session on the hub (the hub forgets it even if this call fails: it expires when idle)."""
        if self.client.session_token is None:
            return
        try:
            self.client.call("DELETE", "/sessions/current", session=True)
        except (ApiError, ConnectionError):
            pass
        finally:
            self.client.session_token = None
            self.session_id = None


class DeskSignIn:
    """A staff member signed in at the desk: the desk's changes then name them in the audit log instead of "front
    desk". The session acts as staff whoever signs in (an admin's too: admin actions keep asking for an admin), and
    ends after `desk.signin_idle_s` without a desk change; the desk goes on as the front desk when it has ended
    (`ended()` says why, once)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.name: str | None = None
        self.idle_s = 0.0  # the hub's desk.signin_idle_s, told at the sign-in

    @property
    def who(self) -> str | None:
        """Who is signed in at the desk; None for the front desk (nobody, or the sign-in ended)."""
        if self.client.desk_session_token is None:
            self.name = None
        return self.name

    def sign_in(self, name: str, password: str) -> Operator:
        try:
            opened: SessionOpened = self.client.post("/sessions", {"name": name, "password": password, "desk": True},
                                                     SessionOpened)
        except ApiError as exc:
            if exc.status in (400, 401, 429):
                raise SignInRefused(exc.message) from None
            raise
        self.sign_out()
        self.client.desk_session_token = opened.token
        self.client.desk_ended = ""
        self.name, self.idle_s = opened.operator.name, opened.idle_s
        self.client.desk_used_at = time.monotonic()
        return opened.operator

    def expire_idle(self) -> str:
        """Sign out when the hub will have ended the sign-in for want of use (so the screen never shows a name the
        hub no longer records); why, or "" if it still lasts."""
        if self.client.desk_session_token is None or time.monotonic() - self.client.desk_used_at < self.idle_s:
            return ""
        self.sign_out()
        minutes = round(self.idle_s / 60)
        span = f"{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} min"
        return f"signed out after {span} without a desk action"

    def sign_out(self) -> None:
        if self.client.desk_session_token is None:
            return
        try:
            self.client.call("DELETE", "/sessions/current")  # a change: it carries the desk's session
        except (ApiError, ConnectionError):
            pass
        finally:
            self.client.desk_session_token = None
            self.client.desk_ended = ""
            self.name = None

    def ended(self) -> str:
        """Why the sign-in ended on the hub since the last time asked ("" if it did not)."""
        why, self.client.desk_ended = self.client.desk_ended, ""
        if why:
            self.name = None
        return why
