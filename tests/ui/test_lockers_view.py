"""The Lockers tab offscreen, on a real SQLite file: scanning, the map, admin actions, lists, history and figures."""

import csv
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from kiosk.core.lockers import LockerStatus, demo_roster_csv, preview_roster
from kiosk.store.db import open_store
from kiosk.store.lockers import DueRule, LockerDesk, Operator, Role
from kiosk.ui.lockers.locker_map import CELL_H, CELL_STYLES, CELL_W
from kiosk.ui.lockers.lockers_view import LockersView
from kiosk.ui.widgets.pin_dialog import AdminPin, PinDialog
from kiosk.ui.widgets.reason_dialog import ReasonDialog
from kiosk.ui.widgets.stall_tile import contrast_ratio
from tests.in_process.lockers import LockerOperations

PIN = "482913"


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(tmp_path: Path, clock: Clock) -> LockerDesk:
    desk = LockerDesk(open_store(f"sqlite:///{tmp_path / 'k.db'}"), due=DueRule(hours=4), clock=clock, count=12)
    desk.ensure_lockers(12, per_bank=6, labels=("Ground floor", "First floor"))
    desk.import_roster(preview_roster(demo_roster_csv(), set()), Operator("test", Role.STAFF))
    return desk


@pytest.fixture
def pin(tmp_path: Path) -> AdminPin:
    pin = AdminPin(tmp_path)
    pin.set(PIN)
    return pin


@pytest.fixture
def tab(qtbot: Any, desk: LockerDesk, pin: AdminPin, clock: Clock) -> LockersView:
    changes: list[int] = []
    tab = LockersView(clock=clock)
    tab.changes = changes  # type: ignore[attr-defined]
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    qtbot.waitExposed(tab)
    tab.attach(LockerOperations(desk, lambda: changes.append(1)), pin)
    return tab


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def scan(tab: LockersView, text: str) -> None:
    tab.desk.scan.setText(text)
    tab.desk.scan.returnPressed.emit()


def give_pin(qtbot: Any, tab: LockersView) -> None:
    dialog = qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), PinDialog)) or \
        QApplication.activeModalWidget()
    dialog.entry.setText(PIN)
    dialog._submit()


def give_reason(qtbot: Any, reason: str) -> None:
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), ReasonDialog))
    dialog = QApplication.activeModalWidget()
    assert not dialog.ok.isEnabled()  # a reason is required
    dialog.reason.setText(reason)
    dialog.ok.click()


@pytest.mark.parametrize("status", list(LockerStatus), ids=lambda s: s.value)
def test_every_locker_cell_has_aa_contrast_and_its_own_word(status: LockerStatus) -> None:
    style = CELL_STYLES[status]
    assert contrast_ratio(style.text, style.background) >= 4.5
    assert len({s.word for s in CELL_STYLES.values()}) == len(CELL_STYLES)


def test_cells_are_large_enough_for_a_finger() -> None:
    assert CELL_W >= 48 and CELL_H >= 48


def test_a_scan_assigns_shows_the_number_large_and_every_view_follows(qtbot: Any, tab: LockersView) -> None:
    assert tab.desk.scan.hasFocus()
    qtbot.keyClicks(tab.desk.scan, "cs2021001")  # a barcode reader types characters...
    qtbot.keyClick(tab.desk.scan, Qt.Key.Key_Return)  # ...then Enter
    assert tab.desk.result_number.text() == "1"
    assert tab.desk.result_line.text() == "Rahul Sharma · CS2021001"
    assert tab.desk.result_number.sizeHint().height() >= 80  # large: read from across the desk
    from kiosk.ui.theme import theme_file

    theme = theme_file()
    assert theme is not None
    tab.setStyleSheet(theme.read_text(encoding="utf-8"))  # the theme's "QWidget { font-size }" must not shrink it
    assert tab.desk.result_number.sizeHint().height() >= 80
    assert tab.desk.map.status_of(1) is LockerStatus.IN_USE
    assert tab.desk.counts.text().startswith("11 free  ·  1 in use")
    assert tab.changes == [1]  # the hub was told (wall display counts)
    assert tab.desk.scan.text() == "" and tab.desk.scan.hasFocus()
    tab.pages.setCurrentWidget(tab.assigned)  # a page off screen is brought up to date when shown
    assert [s.member for s in tab.assigned.model.rows] == ["CS2021001"]


def test_a_second_scan_of_a_member_with_a_locker_releases_it_after_saying_so(tab: LockersView, clock: Clock) -> None:
    scan(tab, "CS2021002")
    clock.now += 2
    scan(tab, "CS2021002")
    assert tab.desk.result_number.text() == "1" and "Already has locker 1" in tab.desk.result_detail.text()
    assert tab.desk.map.status_of(1) is LockerStatus.IN_USE  # not released yet
    clock.now += 5
    scan(tab, "cs2021002")
    assert tab.desk.result_title.text() == "Locker released"
    assert tab.desk.map.status_of(1) is LockerStatus.FREE and tab.desk.counts.text().startswith("12 free")


def test_a_card_read_three_times_at_once_is_one_scan(tab: LockersView, clock: Clock) -> None:
    for _ in range(3):  # a reader repeating itself within a second: not assign, ask, release
        scan(tab, "CS2021002")
        clock.now += 0.2
    assert tab.desk.result_title.text() == "Locker assigned" and tab.desk.map.status_of(1) is LockerStatus.IN_USE


def test_the_second_scan_must_come_soon_and_esc_cancels(tab: LockersView, clock: Clock, qtbot: Any) -> None:
    scan(tab, "CS2021002")
    clock.now += 2
    scan(tab, "CS2021002")
    clock.now += 60  # too late: it asks again instead of releasing
    scan(tab, "CS2021002")
    assert "Already has locker" in tab.desk.result_detail.text() and tab.desk.map.status_of(1) is LockerStatus.IN_USE
    qtbot.keyClick(tab.desk.scan, Qt.Key.Key_Escape)
    clock.now += 2
    scan(tab, "CS2021002")
    assert tab.desk.map.status_of(1) is LockerStatus.IN_USE


@pytest.mark.parametrize(("typed", "headline", "expected"), [
    ("hello", "Not an enrollment number", "is not an enrollment number"),
    ("XX2021999", "Not on the roster", "not on the roster"),
])
def test_bad_scans_say_what_happened_and_what_to_do_next(tab: LockersView, typed: str, headline: str,
                                                         expected: str) -> None:
    scan(tab, typed)
    assert tab.desk.result_title.text() == headline and expected in tab.desk.result_detail.text()
    assert tab.desk.counts.text().startswith("12 free")


def test_an_unknown_member_can_be_added_from_the_desk_and_gets_a_locker(tab: LockersView, qtbot: Any) -> None:
    scan(tab, "CS2022001")
    assert tab.desk.result_action.isVisible()
    tab.desk.result_action.click()
    dialog = tab.members.dialog
    assert dialog.enrollment.text() == "CS2022001"
    dialog.name.setText("Neha Rao")
    dialog.programme.setText("CS")
    dialog._save()
    assert tab.desk.result_number.text() == "1" and "Neha Rao" in tab.desk.result_line.text()


def test_no_free_locker_says_so(tab: LockersView, desk: LockerDesk) -> None:
    for enrollment in ("CS2021001", "CS2021002", "EC2021001", "ME2021001", "CS2021003", "EC2021002", "ME2021002",
                       "CS2021004", "EC2021003", "ME2021003"):
        scan(tab, enrollment)
    desk.add_member("CS2022001", "A", "", Operator("t", Role.STAFF))
    desk.add_member("CS2022002", "B", "", Operator("t", Role.STAFF))
    scan(tab, "CS2022001")
    scan(tab, "CS2022002")
    assert tab.desk.counts.text().startswith("0 free")
    desk.add_member("CS2022003", "C", "", Operator("t", Role.STAFF))
    scan(tab, "CS2022003")
    assert "No locker is free" in tab.desk.result_detail.text() and tab.desk.result_title.text() == "No locker free"


def test_a_locker_picked_on_the_map_goes_to_the_next_scan(tab: LockersView, qtbot: Any) -> None:
    rect = tab.desk.map.cell_rect(8)
    qtbot.mouseClick(tab.desk.map, Qt.MouseButton.LeftButton, pos=rect.center())
    assert tab.desk.map.selected == 8 and "next scan gets this locker" in tab.desk.selection.text()
    assert tab.desk.scan.hasFocus()  # the map never takes the focus
    scan(tab, "EC2021001")
    assert tab.desk.result_number.text() == "8" and tab.desk.map.selected is None
    scan(tab, "8")  # typing a locker number selects it
    assert tab.desk.map.selected == 8 and "Amit Kumar" in tab.desk.selection.text()
    assert tab.desk.release_button.isVisible() and tab.desk.force_button.isVisible()


def test_releasing_from_the_map_asks_first(tab: LockersView, qtbot: Any) -> None:
    scan(tab, "EC2021001")
    scan(tab, "1")
    tab.desk.release_button.click()
    box = tab.desk.dialog
    box.accept()
    assert tab.desk.map.status_of(1) is LockerStatus.FREE and tab.desk.result_title.text() == "Locker released"


def test_force_release_needs_the_pin_and_a_reason_and_is_audited(tab: LockersView, qtbot: Any,
                                                                 desk: LockerDesk) -> None:
    scan(tab, "ME2021003")
    scan(tab, "1")
    tab.desk.force_button.click()
    give_pin(qtbot, tab)
    give_reason(qtbot, "left without the key")
    assert tab.desk.map.status_of(1) is LockerStatus.FREE
    assert tab.desk.result_title.text() == "Force release done"  # it says it was done, and how
    assert "force released" in tab.desk.result_detail.text() and "left without the key" in tab.desk.result_detail.text()
    assert "locker 1 force released" in tab.desk.recent.item(0).text()
    rows, _ = desk.history_rows()
    assert (rows[0].release_kind, rows[0].released_by, rows[0].reason) == ("force", "admin (PIN)",
                                                                           "left without the key")


def test_out_of_order_from_the_map_and_back(tab: LockersView, qtbot: Any) -> None:
    scan(tab, "5")
    assert tab.desk.order_button.isVisible() and not tab.desk.release_button.isVisible()
    tab.desk.order_button.click()
    give_pin(qtbot, tab)
    give_reason(qtbot, "broken hinge")
    assert tab.desk.map.status_of(5) is LockerStatus.OUT_OF_ORDER
    assert "broken hinge" in tab.desk.selection.text()
    tab.desk.order_button.click()
    give_pin(qtbot, tab)
    assert tab.desk.map.status_of(5) is LockerStatus.FREE


def test_overdue_lockers_stand_out_and_an_admin_releases_them_all(tab: LockersView, qtbot: Any, clock: Clock,
                                                                  desk: LockerDesk) -> None:
    scan(tab, "CS2021001")
    clock.now += 3 * 3600
    scan(tab, "CS2021002")
    clock.now += 2 * 3600
    tab.recheck()  # the 15 s timer: time passed, nothing happened
    assert tab.desk.map.status_of(1) is LockerStatus.OVERDUE and tab.desk.map.status_of(2) is LockerStatus.IN_USE
    assert "(1 overdue)" in tab.desk.counts.text()
    tab.pages.setCurrentWidget(tab.assigned)
    assert tab.assigned.title.text() == "2 lockers assigned now, 1 overdue"
    overdue = tab.assigned.model.rows.index(next(s for s in tab.assigned.model.rows if s.member == "CS2021001"))
    assert tab.assigned.model.index(overdue, 6).data().startswith("OVERDUE by 1 h")
    assert tab.assigned.model.index(overdue, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    tab.assigned.overdue_button.click()
    give_pin(qtbot, tab)
    give_reason(qtbot, "library closing")
    assert [s.member for s in tab.assigned.model.rows] == ["CS2021002"]
    assert desk.history_rows()[0][1].release_kind == "overdue"


def test_the_end_of_day_list_exports_to_csv(tab: LockersView, tmp_path: Path) -> None:
    scan(tab, "CS2021001")
    scan(tab, "EC2021003")
    tab.pages.setCurrentWidget(tab.assigned)  # where the export button is
    assert tab.assigned.export_to(str(tmp_path / "left.csv")) == 2
    rows = read_csv(tmp_path / "left.csv")
    assert rows[0][:4] == ["locker", "bank", "enrollment", "name"]
    assert [r[2] for r in rows[1:]] == ["CS2021001", "EC2021003"] and rows[1][1] == "Ground floor"


def test_a_change_from_another_station_shows_on_refresh(tab: LockersView, desk: LockerDesk) -> None:
    other = LockerDesk(open_store(str(desk._engine.url)), count=12)
    other.assign("CS2021004", Operator("station 2", Role.STAFF), locker=12)
    tab.refresh()  # what the bridge's lockersChanged does
    assert tab.desk.map.status_of(12) is LockerStatus.IN_USE


def test_members_search_add_edit_and_import(tab: LockersView, qtbot: Any, tmp_path: Path) -> None:
    tab.pages.setCurrentWidget(tab.members)
    assert tab.members.title.text() == "10 members"
    tab.members.search.setText("priya")
    qtbot.waitUntil(lambda: len(tab.members.model.rows) == 1)
    tab.members.table.selectRow(0)
    tab.members.edit_selected()
    dialog = tab.members.dialog
    dialog.name.setText("")
    dialog._save()
    assert "needs a name" in dialog.error.text()
    dialog.programme.setText("Computer Science")
    dialog.name.setText("Priya Patel")
    dialog._save()
    qtbot.waitUntil(lambda: tab.members.model.rows and tab.members.model.rows[0].programme == "Computer Science")
    roster = tmp_path / "roster.csv"
    roster.write_bytes("\ufeffEnrollment,Name,Programme\nCS2022001,Neha Rao,CS\nCS20X,Bad,CS\n".encode())
    tab.members.import_file(str(roster))
    preview = tab.members.dialog
    assert preview.import_button.text() == "Import 1 member" and preview.error_list.count() == 1
    assert "line 3" in preview.error_list.item(0).text()
    preview.import_button.click()
    tab.members.search.setText("")
    qtbot.waitUntil(lambda: tab.members.title.text() == "11 members")


def test_a_roster_that_is_not_utf8_gets_a_clear_message(tab: LockersView, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_bytes(b"enrollment,name\nCS2022001,J\xfcrgen\n")
    tab.members.import_file(str(roster))
    assert "is not UTF-8 text" in tab.members.dialog.text()


def test_history_filters_and_export(tab: LockersView, qtbot: Any, clock: Clock, tmp_path: Path) -> None:
    for enrollment in ("CS2021001", "CS2021002", "CS2021001"):
        scan(tab, enrollment)
        clock.now += 600
        scan(tab, enrollment)
        clock.now += 2
        scan(tab, enrollment)
    tab.pages.setCurrentWidget(tab.history)
    qtbot.waitUntil(lambda: len(tab.history.model.rows) == 3)
    with qtbot.waitSignal(tab.history.searched):
        tab.history.member.setText("rahul")
    assert [r.member for r in tab.history.model.rows] == ["CS2021001", "CS2021001"]
    assert tab.history.status.text() == "2 assignments match."
    with qtbot.waitSignal(tab.history.searched):
        tab.history.locker.setText("7")
    assert tab.history.model.rows == [] and tab.history.status.text() == "No assignment matches these filters."
    tab.history.locker.setText("")
    tab.history.export_to(str(tmp_path / "history.csv"))
    tab.history.wait_export()
    qtbot.waitUntil(lambda: tab.history.status.text().startswith("Exported"))
    assert tab.history.status.text() == "Exported 2 assignments."
    assert len(read_csv(tmp_path / "history.csv")) == 3


def test_figures_show_counts_and_per_day(tab: LockersView, qtbot: Any, tmp_path: Path) -> None:
    scan(tab, "CS2021001")
    scan(tab, "CS2021002")
    with qtbot.waitSignal(tab.figures.computed, timeout=10_000):
        tab.pages.setCurrentWidget(tab.figures)
    assert tab.figures.now_labels["in use"].text() == "2\nin use now"
    assert tab.figures.totals.text().startswith("2 assignments.")
    assert sum(n for _, n in tab.figures.figures.per_day) == 2
    tab.figures.export_to(str(tmp_path / "figures.csv"))
    assert ["totals", "assignments", "2"] in read_csv(tmp_path / "figures.csv")


def test_the_desk_lists_its_recent_scans_newest_first(tab: LockersView, clock: Clock) -> None:
    for enrollment in ("CS2021001", "CS2021002", "EC2021001"):
        scan(tab, enrollment)
        clock.now += 5
    scan(tab, "XX2021999")
    lines = [tab.desk.recent.item(i).text() for i in range(tab.desk.recent.count())]
    assert len(lines) == 4
    assert "not on the roster\nXX2021999" in lines[0]
    assert "locker 3 assigned" in lines[1] and lines[1].endswith("\nAmit Kumar · EC2021001")
    assert "locker 2 assigned" in lines[2] and "CS2021002" in lines[2] and "locker 1 assigned" in lines[3]
    for _ in range(10):  # it keeps the last few
        scan(tab, "hello")
        clock.now += 2
    assert tab.desk.recent.count() == 8


def test_the_release_hint_goes_when_its_30_s_are_over(tab: LockersView, clock: Clock) -> None:
    scan(tab, "CS2021002")
    clock.now += 2
    scan(tab, "CS2021002")
    assert "within 30 s" in tab.desk.result_detail.text()
    assert tab.desk._hint.isActive() and tab.desk._hint.interval() == 30_000
    clock.now += 31
    tab.desk._hint.timeout.emit()  # what the timer does 30 s later
    assert "within 30 s" not in tab.desk.result_detail.text()
    assert tab.desk.result_detail.text() == "Has locker 1. To release it, scan the card twice."
    scan(tab, "CS2021002")  # once: it says so again, and does not release
    assert tab.desk.map.status_of(1) is LockerStatus.IN_USE and "within 30 s" in tab.desk.result_detail.text()


def test_a_due_time_after_midnight_says_tomorrow(tab: LockersView, clock: Clock) -> None:
    import time

    late = time.mktime((*time.localtime(clock.now)[:3], 22, 30, 0, 0, 0, -1))
    clock.now = late
    scan(tab, "CS2021001")  # due 4 hours later: 02:30 tomorrow
    assert tab.desk.result_detail.text() == "Locker 1 assigned, due back by 02:30 tomorrow."
    assert "due by 02:30 tomorrow" in tab.desk.recent.item(0).text()
    scan(tab, "1")
    assert "02:30 tomorrow" in tab.desk.selection.text()


def test_tapping_a_locker_shows_its_holder_in_the_big_panel(tab: LockersView, qtbot: Any, clock: Clock) -> None:
    scan(tab, "CS2021001")
    clock.now += 600
    qtbot.mouseClick(tab.desk.map, Qt.MouseButton.LeftButton, pos=tab.desk.map.cell_rect(1).center())
    assert tab.desk.result_number.text() == "1" and tab.desk.result_line.text() == "Rahul Sharma · CS2021001"
    assert tab.desk.result_title.text().startswith("Locker 1 (Ground floor)")
    assert "since" in tab.desk.result_detail.text() and "due back by" in tab.desk.result_detail.text()
    qtbot.mouseClick(tab.desk.map, Qt.MouseButton.LeftButton, pos=tab.desk.map.cell_rect(7).center())
    assert tab.desk.result_line.text() == "Free" and tab.desk.result_title.text() == "Locker 7 (First floor)"


def test_out_of_order_does_not_look_like_in_use() -> None:
    from PySide6.QtGui import QColor

    in_use, broken = CELL_STYLES[LockerStatus.IN_USE], CELL_STYLES[LockerStatus.OUT_OF_ORDER]
    assert in_use.background != broken.background and in_use.border != broken.border
    hue = QColor(in_use.background).hsvHue()
    assert QColor(in_use.background).hsvSaturation() > 40 and 190 <= hue <= 240  # blue, where broken is grey
