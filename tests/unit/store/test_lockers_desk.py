"""Locker operations on a real SQLite file, and a stateful test of their invariants."""

from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import insert

from kiosk.core.lockers import LockerError
from kiosk.store.db import open_store
from kiosk.store.lockers import LockerDesk, Operator, Role
from kiosk.store.models import LockerAssignment

STAFF = Operator("desk", Role.STAFF)
ADMIN = Operator("admin", Role.ADMIN)
ROSTER = ["CS2021001", "CS2021002", "EC2021001", "ME2021001", "CS2021003"]


def desk_at(path: Path, lockers: int = 3) -> LockerDesk:
    desk = LockerDesk(open_store(f"sqlite:///{path}"))
    desk.ensure_lockers(lockers, per_bank=2)
    for n, enrollment in enumerate(ROSTER):
        desk.add_member(enrollment, f"Member {n}", "CS", STAFF)
    return desk


def test_assign_exit_and_the_messages_for_each_refusal(tmp_path: Path) -> None:
    desk = desk_at(tmp_path / "k.db")
    first = desk.assign("cs2021001", STAFF)
    assert first.locker == 1 and first.due_at > first.assigned_at
    with pytest.raises(LockerError, match="already has locker 1"):
        desk.assign("CS2021001", STAFF)
    with pytest.raises(LockerError, match="not on the roster"):
        desk.assign("XX2021999", STAFF)
    with pytest.raises(LockerError, match="in use"):
        desk.assign("CS2021002", STAFF, locker=1)
    desk.assign("CS2021002", STAFF)
    desk.assign("EC2021001", STAFF)
    with pytest.raises(LockerError, match="No locker is free"):
        desk.assign("ME2021001", STAFF)
    assert desk.exit("CS2021001", STAFF).release_kind == "exit"
    assert desk.assign("ME2021001", STAFF).locker == 1


def test_only_an_admin_may_force_a_locker_free_and_it_needs_a_reason(tmp_path: Path) -> None:
    desk = desk_at(tmp_path / "k.db")
    desk.assign("CS2021001", STAFF)
    with pytest.raises(PermissionError):
        desk.force_exit(1, "left without the key", STAFF)
    with pytest.raises(LockerError, match="needs a reason"):
        desk.force_exit(1, "  ", ADMIN)
    assert desk.force_exit(1, "left without the key", ADMIN).release_kind == "force"
    with pytest.raises(PermissionError):
        desk.set_out_of_order(2, True, "broken hinge", STAFF)


def test_the_database_refuses_a_second_active_assignment_even_behind_the_rules(tmp_path: Path) -> None:
    """Two stations racing past the checks: the partial unique indexes still hold."""
    from sqlalchemy.exc import IntegrityError

    desk = desk_at(tmp_path / "k.db")
    desk.assign("CS2021001", STAFF)
    engine = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    for row in ({"locker": 1, "member": "CS2021002"}, {"locker": 2, "member": "CS2021001"}):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(LockerAssignment), [{**row, "assigned_at": 1.0, "due_at": 2.0,
                                                            "assigned_by": "x"}])


class LockerMachine(RuleBasedStateMachine):
    """Random assign / exit / force-exit / out-of-order sequences against a plain model of the truth."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self._tmp = tempfile.TemporaryDirectory()
        self.desk = desk_at(Path(self._tmp.name) / "k.db", lockers=3)
        self.holder: dict[str, int] = {}  # member -> locker
        self.broken: set[int] = set()
        self.releases = 0

    def teardown(self) -> None:
        self._tmp.cleanup()

    @rule(member=st.sampled_from(ROSTER), locker=st.one_of(st.none(), st.integers(1, 4)))
    def assign(self, member: str, locker: int | None) -> None:
        taken = set(self.holder.values())
        free = [n for n in (1, 2, 3) if n not in taken and n not in self.broken]
        allowed = member not in self.holder and (free if locker is None else locker in free)
        try:
            got = self.desk.assign(member, STAFF, locker)
        except LockerError:
            assert not allowed
            return
        assert allowed and got.locker == (locker if locker is not None else min(free))
        self.holder[member] = got.locker

    @rule(member=st.sampled_from(ROSTER))
    def exit(self, member: str) -> None:
        try:
            self.desk.exit(member, STAFF)
        except LockerError:
            assert member not in self.holder
            return
        del self.holder[member]
        self.releases += 1

    @rule(locker=st.integers(1, 3), admin=st.booleans())
    def force_exit(self, locker: int, admin: bool) -> None:
        try:
            self.desk.force_exit(locker, "test", ADMIN if admin else STAFF)
        except PermissionError:
            assert not admin
            return
        except LockerError:
            assert locker not in self.holder.values()
            return
        member = next(m for m, n in self.holder.items() if n == locker)
        del self.holder[member]
        self.releases += 1

    @rule(locker=st.integers(1, 3), out=st.booleans())
    def out_of_order(self, locker: int, out: bool) -> None:
        try:
            self.desk.set_out_of_order(locker, out, "", ADMIN)
        except LockerError:
            assert out and locker in self.holder.values()
            return
        (self.broken.add if out else self.broken.discard)(locker)

    @invariant()
    def matches_the_model(self) -> None:
        active = self.desk.active()
        assert {a.member: a.locker for a in active} == self.holder
        assert len({a.locker for a in active}) == len(active)  # one per locker
        assert sum(1 for a in self.desk.history() if a.released_at is not None) == self.releases
        assert not (set(self.holder.values()) & self.broken)


TestLockerInvariants = LockerMachine.TestCase
TestLockerInvariants.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_importing_the_demo_roster_twice_adds_it_once(tmp_path: Path) -> None:
    from kiosk.core.lockers import DEMO_ROSTER, preview_roster

    desk = LockerDesk(open_store(f"sqlite:///{tmp_path / 'k.db'}"))
    text = "enrollment,name,programme\n" + "".join(f"{e},{n},{p}\n" for e, n, p in DEMO_ROSTER)
    assert desk.import_roster(preview_roster(text, desk.enrollments()), ADMIN) == 10
    again = preview_roster(text, desk.enrollments())
    assert len(again.known) == 10 and desk.import_roster(again, ADMIN) == 0
    assert desk.member_count() == 10
