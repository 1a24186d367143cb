"""Operator accounts in the database: create, sign in (with lockout), change password or role, disable; audited.

The first account may be created without anyone signed in (first start, or `kiosk operator add` on the hub's
machine); every later change needs an admin. Passwords are never stored or logged: only argon2id hashes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kiosk.core.operators import (
    LOCKOUT_S,
    MAX_FAILURES,
    Operator,
    OperatorError,
    OperatorInfo,
    Role,
    SignInRefused,
    check_name,
    check_new_password,
    require,
)
from kiosk.core.pin import hash_pin, needs_rehash, verify_pin
from kiosk.store.devices import write_audit
from kiosk.store.models import OperatorAccount


class OperatorDirectory:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(OperatorAccount)) or 0

    def add(self, name: str, role: Role, password: str, by: Operator | None) -> Operator:
        """A new account. Without `by` only while there is no account at all (the first admin)."""
        if by is not None:
            require(by, Role.ADMIN, "add operators")  # rights first: a refusal says nothing about the password
        now = self._clock()
        with self._session() as session, session.begin():
            existing = session.scalar(select(func.count()).select_from(OperatorAccount)) or 0
            if by is None and existing:
                raise PermissionError("Only an admin may add operators (sign in first).")
            if not existing and role is not Role.ADMIN:  # whoever adds it (the CLI acts as an admin)
                raise OperatorError("The first operator must be an admin.")
            name = check_name(name)
            check_new_password(password, name)
            if session.get(OperatorAccount, name) is not None:
                raise OperatorError(f"There is already an operator called {name!r}.")
            session.add(OperatorAccount(name=name, role=role.value, password_hash=hash_pin(password),
                                        created_at=now, failures=0, locked_until=0.0))
            write_audit(session, now, by.name if by else "first start", "operator.add", name, role.value)
        return Operator(name, role)

    def sign_in(self, name: str, password: str) -> Operator:
        """The operator, or SignInRefused. `MAX_FAILURES` wrong passwords in a row lock the account for
        `LOCKOUT_S`; the count and the lockout are committed before the refusal (kept across restarts)."""
        now = self._clock()
        refusal: str | None = None
        with self._session() as session, session.begin():
            account = session.get(OperatorAccount, name.strip())
            if account is None or account.disabled_at is not None:
                write_audit(session, now, name.strip()[:40] or "?", "operator.sign_in.refused", name.strip()[:40],
                            "unknown or disabled")
                refusal = "Wrong name or password."
            elif account.locked_until > now:
                refusal = f"Too many wrong passwords: try again in {account.locked_until - now:.0f} s."
            elif not verify_pin(password, account.password_hash):
                account.failures += 1
                detail = f"wrong password ({account.failures} in a row)"
                if account.failures >= MAX_FAILURES:
                    account.failures, account.locked_until = 0, now + LOCKOUT_S
                    detail += f"; locked for {LOCKOUT_S:.0f} s"
                write_audit(session, now, account.name, "operator.sign_in.refused", account.name, detail)
                refusal = "Wrong name or password."
            else:
                account.failures, account.last_login = 0, now
                write_audit(session, now, account.name, "operator.sign_in", account.name, "")
                if needs_rehash(account.password_hash):  # an older, weaker hash: replaced now the password is known
                    account.password_hash = hash_pin(password)
                    write_audit(session, now, account.name, "operator.password.rehash", account.name, "argon2id")
                operator = Operator(account.name, Role(account.role))
        if refusal is not None:
            raise SignInRefused(refusal)
        return operator

    def set_password(self, name: str, password: str, by: Operator) -> None:
        """Admins may set anyone's password; others only their own."""
        if by.name != name:
            require(by, Role.ADMIN, "set another operator's password")
        check_new_password(password, name)
        with self._session() as session, session.begin():
            account = self._account(session, name)
            account.password_hash, account.failures, account.locked_until = hash_pin(password), 0, 0.0
            write_audit(session, self._clock(), by.name, "operator.password", name, "")

    def set_role(self, name: str, role: Role, by: Operator) -> None:
        require(by, Role.ADMIN, "change roles")
        with self._session() as session, session.begin():
            account = self._account(session, name)
            if account.role == Role.ADMIN.value and role is not Role.ADMIN:
                self._keep_an_admin(session, name)
            before, account.role = account.role, role.value
            write_audit(session, self._clock(), by.name, "operator.role", name, f"{before} -> {role.value}")

    def disable(self, name: str, by: Operator) -> None:
        require(by, Role.ADMIN, "disable operators")
        with self._session() as session, session.begin():
            account = self._account(session, name)
            if account.role == Role.ADMIN.value:
                self._keep_an_admin(session, name)
            account.disabled_at = self._clock()
            write_audit(session, self._clock(), by.name, "operator.disable", name, "")

    def current(self, name: str) -> Operator | None:
        """The operator as the account stands now (None: no such account, or disabled): a session checks this."""
        with self._session() as session:
            account = session.get(OperatorAccount, name)
            if account is None or account.disabled_at is not None:
                return None
            return Operator(account.name, Role(account.role))

    def operators(self) -> list[OperatorInfo]:
        with self._session() as session:
            return [OperatorInfo(a.name, Role(a.role), a.created_at, a.disabled_at is not None, a.locked_until,
                                 a.last_login)
                    for a in session.scalars(select(OperatorAccount).order_by(OperatorAccount.name))]

    @staticmethod
    def _account(session: Session, name: str) -> OperatorAccount:
        account = session.get(OperatorAccount, name)
        if account is None:
            raise OperatorError(f"There is no operator {name!r}.")
        return account

    @staticmethod
    def _keep_an_admin(session: Session, name: str) -> None:
        others = session.scalar(select(func.count()).select_from(OperatorAccount).where(
            OperatorAccount.role == Role.ADMIN.value, OperatorAccount.disabled_at.is_(None),
            OperatorAccount.name != name)) or 0
        if not others:
            raise OperatorError("This is the last admin: make another operator an admin first.")
