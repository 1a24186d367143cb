"""The Stalls tab, its tiles and dialogs, offscreen."""

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from kiosk.core.stalls import SensorRole, StallState, StallView
from kiosk.services.stalls import StallPlace
from kiosk.ui.stalls.restroom_editor import RestroomEditor
from kiosk.ui.stalls.stall_detail import StallDetail
from kiosk.ui.stalls.stalls_view import StallsView
from kiosk.ui.widgets.pin_dialog import AdminPin, PinDialog
from kiosk.ui.widgets.stall_tile import STYLES, UNKNOWN, contrast_ratio
from tests.in_process.stalls import StallOperations


def place(stall_id: int, label: str, restroom: str = "West", restroom_id: int = 1) -> StallPlace:
    return StallPlace(stall_id, restroom_id, restroom, "G", label, stall_id, restroom_id)


def view(stall_id: int, state: StallState, reason: str = "") -> StallView:
    return StallView(stall_id, state, reason, 100.0, 100.0)


@pytest.mark.parametrize("style", [*STYLES.values(), UNKNOWN], ids=lambda s: s.word)
def test_every_tile_style_has_at_least_aa_text_contrast(style: Any) -> None:
    assert contrast_ratio(style.text, style.background) >= 4.5


def test_words_differ_so_that_colour_is_never_the_only_cue() -> None:
    assert len({s.word for s in STYLES.values()}) == len(STYLES)


def test_tiles_follow_the_batches_and_counts_add_up(qtbot: Any) -> None:
    stalls = StallsView()
    qtbot.addWidget(stalls)
    stalls.update_stalls([(place(1, "1"), view(1, StallState.VACANT)), (place(2, "2"), view(2, StallState.OCCUPIED)),
                          (place(3, "1", "East", 2), view(3, StallState.NO_SIGNAL, "door sensor silent"))], True)
    assert {s: t.state for s, t in stalls.tiles.items()} == {1: StallState.VACANT, 2: StallState.OCCUPIED,
                                                              3: StallState.NO_SIGNAL}
    assert stalls.summary.text() == "Free 1  ·  In use 1  ·  No signal 1"
    assert [s.counts.text() for s in stalls._sections.values()] == ["1 of 2 free", "0 of 1 free"]
    tile = stalls.tiles[2]
    stalls.update_stalls([(place(2, "2"), view(2, StallState.VACANT))], False)
    assert stalls.tiles[2] is tile and tile.state is StallState.VACANT  # updated in place, not rebuilt
    assert tile.accessibleName() == "Stall 2: free"
    assert [s.counts.text() for s in stalls._sections.values()] == ["2 of 2 free", "0 of 1 free"]
    assert stalls.summary.text() == "Free 2  ·  In use 0  ·  No signal 1"  # counted for the restroom that changed
    stalls.update_stalls([(place(3, "1", "East", 2), view(3, StallState.OCCUPIED))], False)
    assert [s.counts.text() for s in stalls._sections.values()] == ["2 of 2 free", "0 of 1 free"]
    assert stalls.summary.text() == "Free 2  ·  In use 1"
    stalls.update_stalls([(place(1, "1"), view(1, StallState.VACANT))], True)  # an edit removed two stalls
    assert list(stalls.tiles) == [1] and stalls.summary.text() == "Free 1  ·  In use 0"


def test_clicking_or_pressing_enter_on_a_tile_asks_for_its_detail(qtbot: Any) -> None:
    stalls = StallsView()
    qtbot.addWidget(stalls)
    stalls.update_stalls([(place(5, "5"), view(5, StallState.VACANT))], True)
    stalls.show()
    tile = stalls.tiles[5]
    with qtbot.waitSignal(stalls.stallClicked) as clicked:
        qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
    assert clicked.args == [5]
    with qtbot.waitSignal(stalls.stallClicked):
        qtbot.keyClick(tile, Qt.Key.Key_Return)


def test_choosing_then_entering_the_admin_pin(qtbot: Any, tmp_path: Path) -> None:
    pin = AdminPin(tmp_path)
    first = PinDialog(pin, "edit restrooms")
    qtbot.addWidget(first)
    assert first.again.isVisible() or not first.isVisible()  # asks twice when choosing
    first.entry.setText("482913")
    first.again.setText("482914")
    first._submit()
    assert first.error.text() == "The two PINs differ." and not pin.is_set
    first.again.setText("123456")
    first.entry.setText("123456")
    first._submit()
    assert "too easy" in first.error.text()
    first.entry.setText("482913")
    first.again.setText("482913")
    with qtbot.waitSignal(first.accepted):
        first._submit()
    assert pin.is_set
    second = PinDialog(pin, "edit restrooms")
    qtbot.addWidget(second)
    for key in "000000":
        second._key(key)
    second._key("OK")
    assert second.error.text() == "Wrong PIN." and second.entry.text() == ""
    with qtbot.waitSignal(second.accepted):
        for key in "482913":
            second._key(key)
        second._key("OK")


def test_the_editor_adds_restrooms_and_stalls_and_assigns_a_pending_board(qtbot: Any, hub: Any,
                                                                         events: Any) -> None:
    board, _ = hub.registry.ensure_legacy("Stall9")
    hub.registry.set_details(board.id, model="com.StallSense.ThermalSensor", ip="10.0.0.9")
    editor = RestroomEditor(StallOperations(hub))
    qtbot.addWidget(editor)
    editor.room_name.setText("North")
    editor.room_floor.setText("2")
    editor._add_room()
    assert editor.error.text() == "Added North." and editor.room_name.text() == ""
    editor.room_name.setText("North")
    editor._add_room()
    assert "already a restroom" in editor.error.text()
    editor.tree.setCurrentItem(editor.tree.topLevelItem(0))
    editor.stall_label.setText("1")
    editor._add_stall()
    editor.tree.setCurrentItem(editor.tree.topLevelItem(0).child(0))
    sensor_row = editor.sensors.findItems("Stall9", Qt.MatchFlag.MatchExactly)[0]
    assert sensor_row.text(1) == "StallSense thermal" and sensor_row.text(3) == "— pending —"
    editor.sensors.setCurrentItem(sensor_row)
    assert editor.role.currentData() == SensorRole.THERMAL.value  # preselected from the board's type
    editor._assign()
    assert hub.stall_directory.assignments()[0][0] == board.id
    assert events.stalls  # the hub re-fused and told the GUI at once
    assert [e.actor for e in hub.registry.audit()][-1] == "admin (PIN)"
    editor.tree.setCurrentItem(editor.tree.topLevelItem(0))
    editor.room_name.setText("North wing")
    editor.room_floor.setText("3")
    editor._rename()
    assert [(r.name, r.floor) for r in hub.stall_directory.restrooms()] == [("North wing", "3")]
    editor.reset(board.id, "Stall9")
    assert editor.error.text() == "Wi-Fi reset sent to Stall9 (written to the audit log)."
    assert [e.action for e in hub.registry.audit()][-1] == "stallsense.wifi_reset"


def test_the_editor_selects_what_was_just_added(qtbot: Any, hub: Any) -> None:
    """The next "Add stall" goes to the restroom just added, not to the one selected before."""
    editor = RestroomEditor(StallOperations(hub))
    qtbot.addWidget(editor)
    for name in ("North", "South"):
        editor.room_name.setText(name)
        editor._add_room()
        assert editor.tree.currentItem().text(0) == name
        editor.stall_label.setText("1")
        editor._add_stall()
        assert editor.tree.currentItem().text(0) == "Stall 1"  # the stall just added, in that restroom
    assert [(r.name, [s.label for s in r.stalls]) for r in hub.stall_directory.restrooms()] == \
        [("North", ["1"]), ("South", ["1"])]
    assert editor.tree.topLevelItem(0).text(1) == "1 stall"


class FailingOps:
    def reset_wifi(self, device_id: str) -> None:
        raise ConnectionError("the broker is not reachable; the reset was not sent")

    def restrooms(self) -> list:
        return []

    def recent_readings(self, device_ids: list) -> list:
        return []

    def timeline(self, *args: Any) -> list:
        return []


def test_a_reset_that_cannot_be_sent_says_so(qtbot: Any, tmp_path: Path) -> None:
    detail = StallDetail(FailingOps(), AdminPin(tmp_path), place(1, "1"), view(1, StallState.NO_SIGNAL))  # type: ignore[arg-type]
    qtbot.addWidget(detail)
    detail.reset("stallsense:Stall3", "Stall3")
    assert detail.status.text() == "Not sent: the broker is not reachable; the reset was not sent"


def test_stall_edits_check_the_acting_operators_role(hub: Any) -> None:
    """Issue 7: the admin PIN gave way to operators; the facade checks the role of whoever the gate let in."""
    from kiosk.core.operators import Operator, Role

    staff = StallOperations(hub, lambda: Operator("sam", Role.STAFF))
    with pytest.raises(PermissionError, match="Only an admin"):
        staff.add_restroom("Ground floor West", "0")
    locked = StallOperations(hub, lambda: None)
    with pytest.raises(PermissionError, match="Sign in"):
        locked.add_restroom("Ground floor West", "0")
    assert hub.stall_directory.restrooms() == []
    StallOperations(hub, lambda: Operator("ada", Role.ADMIN)).add_restroom("Ground floor West", "0")
    assert [(a.actor, a.action) for a in hub.registry.audit() if a.action.startswith("restroom")][-1][0] == "ada"


def test_the_today_bar_ends_at_now(qtbot: Any) -> None:
    """The last state is not drawn over the hours that have not come yet, and the hour labels are not cut."""
    from PySide6.QtGui import QColor

    from kiosk.core.stalls import StallState
    from kiosk.ui.stalls.stall_detail import TimelineBar
    from kiosk.ui.widgets.stall_tile import STYLES

    bar = TimelineBar()
    qtbot.addWidget(bar)
    bar.resize(480, 60)
    midnight = 1_700_000_000.0
    bar.show_day([(midnight + 8 * 3600, StallState.OCCUPIED.value)], midnight, midnight + 86400,
                 now=midnight + 12 * 3600)
    image = bar.grab().toImage()
    middle = int(bar.area().center().y())
    assert image.pixelColor(int(bar.x_of(midnight + 10 * 3600)), middle) == QColor(
        STYLES[StallState.OCCUPIED].background)
    assert image.pixelColor(int(bar.x_of(midnight + 18 * 3600)), middle) == QColor("#f1f3f4")  # not yet
    assert bar.area().left() >= 14 and bar.width() - bar.area().right() >= 14
