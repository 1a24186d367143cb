"""Operator accounts on a real SQLite file: the first admin, roles enforced in each operation, lockout, audit."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.core.operators import LOCKOUT_S, MAX_FAILURES, Operator, OperatorError, Role
from kiosk.store.db import open_store
from kiosk.store.models import AuditEntry, OperatorAccount
from kiosk.store.operators import OperatorDirectory, SignInRefused

GOOD = "correct horse 42"


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def directory(tmp_path: Path) -> tuple[OperatorDirectory, Clock]:
    clock = Clock()
    return OperatorDirectory(open_store(f"sqlite:///{tmp_path / 'k.db'}"), clock), clock


def test_the_first_operator_is_an_admin_made_without_signing_in(directory: tuple[OperatorDirectory, Clock]) -> None:
    operators, _ = directory
    with pytest.raises(OperatorError, match="must be an admin"):
        operators.add("desk", Role.STAFF, GOOD, by=None)
    admin = operators.add("Asha", Role.ADMIN, GOOD, by=None)
    with pytest.raises(PermissionError, match="sign in first"):
        operators.add("Ravi", Role.ADMIN, GOOD, by=None)
    staff = operators.add("desk 1", Role.STAFF, "front desk 2026", by=admin)
    with pytest.raises(PermissionError, match="Only an admin may add operators"):
        operators.add("desk 2", Role.STAFF, "front desk 2027", by=staff)
    assert [(o.name, o.role) for o in operators.operators()] == [("Asha", Role.ADMIN), ("desk 1", Role.STAFF)]


@pytest.mark.parametrize(("name", "password", "message"), [
    ("", GOOD, "1-40 letters"), ("x" * 41, GOOD, "1-40 letters"), ("Asha", "short", "at least 10"),
    ("Asha", "aaaaaaaaaaaa", "too easy"), ("Asha", "asha-asha-2026", "too easy"),
])
def test_names_and_passwords_are_checked(directory: tuple[OperatorDirectory, Clock], name: str, password: str,
                                         message: str) -> None:
    operators, _ = directory
    with pytest.raises(OperatorError, match=message):
        operators.add(name, Role.ADMIN, password, by=None)


def test_passwords_are_stored_only_as_argon2id_hashes(directory: tuple[OperatorDirectory, Clock]) -> None:
    operators, _ = directory
    operators.add("Asha", Role.ADMIN, GOOD, by=None)
    with Session(operators._engine) as session:
        stored = session.get(OperatorAccount, "Asha").password_hash
        audit = " ".join(f"{a.action} {a.target} {a.detail}" for a in session.scalars(select(AuditEntry)))
    assert stored.startswith("$argon2id$") and GOOD not in stored and GOOD not in audit


def test_an_old_scrypt_password_is_rehashed_at_the_next_good_sign_in(
        directory: tuple[OperatorDirectory, Clock]) -> None:
    from tests.unit.core.test_pin import old_scrypt_hash

    operators, _ = directory
    operators.add("Asha", Role.ADMIN, GOOD, by=None)
    with Session(operators._engine) as session, session.begin():
        session.get(OperatorAccount, "Asha").password_hash = old_scrypt_hash(GOOD)  # as written before argon2id
    with pytest.raises(SignInRefused):
        operators.sign_in("Asha", "wrong one")
    with Session(operators._engine) as session:
        assert session.get(OperatorAccount, "Asha").password_hash.startswith("scrypt$")
    assert operators.sign_in("Asha", GOOD).name == "Asha"
    with Session(operators._engine) as session:
        assert session.get(OperatorAccount, "Asha").password_hash.startswith("$argon2id$")
        actions = [a.action for a in session.scalars(select(AuditEntry))]
    assert actions[-1] == "operator.password.rehash"
    assert operators.sign_in("Asha", GOOD).name == "Asha"


def test_wrong_passwords_lock_the_account_even_across_restarts(directory: tuple[OperatorDirectory, Clock]) -> None:
    operators, clock = directory
    operators.add("Asha", Role.ADMIN, GOOD, by=None)
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInRefused, match="Wrong name or password"):
            operators.sign_in("Asha", "nope nope nope")
    restarted = OperatorDirectory(operators._engine, clock)
    with pytest.raises(SignInRefused, match="try again in 300 s"):
        restarted.sign_in("Asha", GOOD)  # even the right password, while locked
    clock.now += LOCKOUT_S + 1
    assert restarted.sign_in("Asha", GOOD) == Operator("Asha", Role.ADMIN)
    with pytest.raises(SignInRefused, match="Wrong name or password"):  # same answer: no hint which part was wrong
        restarted.sign_in("Nobody", GOOD)


def test_roles_passwords_and_disabling_are_admin_work_and_an_admin_always_remains(
        directory: tuple[OperatorDirectory, Clock]) -> None:
    operators, _ = directory
    admin = operators.add("Asha", Role.ADMIN, GOOD, by=None)
    staff = operators.add("desk 1", Role.STAFF, "front desk 2026", by=admin)
    operators.set_password("desk 1", "new desk pass 1", by=staff)  # one's own
    with pytest.raises(PermissionError):
        operators.set_password("Asha", "taken over 123", by=staff)
    with pytest.raises(PermissionError):
        operators.set_role("desk 1", Role.ADMIN, by=staff)
    with pytest.raises(OperatorError, match="last admin"):
        operators.set_role("Asha", Role.STAFF, by=admin)
    with pytest.raises(OperatorError, match="last admin"):
        operators.disable("Asha", by=admin)
    operators.disable("desk 1", by=admin)
    with pytest.raises(SignInRefused):
        operators.sign_in("desk 1", "new desk pass 1")
    with Session(operators._engine) as session:
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["operator.add", "operator.add", "operator.password", "operator.disable",
                       "operator.sign_in.refused"]
