from datetime import datetime, time

import pytest

from kiosk.core.lockers import Locker, LockerError, Policy, choose_locker, due_time, normalise_enrollment


def test_enrollment_numbers_are_normalised_or_refused_in_words() -> None:
    assert normalise_enrollment(" cs2021001\n") == "CS2021001"
    for bad in ("CS20210", "2021001CS", "", "CS2021001X"):
        with pytest.raises(LockerError, match="not an enrollment number"):
            normalise_enrollment(bad)


def test_policies_choose_the_next_locker() -> None:
    lockers = [Locker(1, "A"), Locker(2, "A"), Locker(3, "B"), Locker(4, "B", out_of_order=True), Locker(5, "B")]
    assert choose_locker(lockers, set(), Policy.LOWEST).number == 1
    assert choose_locker(lockers, {1}, Policy.LOWEST).number == 2
    assert choose_locker(lockers, {1}, Policy.SPREAD).number == 3  # bank B has two free, bank A one
    with pytest.raises(LockerError, match="No locker is free"):
        choose_locker(lockers, {1, 2, 3, 5}, Policy.LOWEST)  # 4 is out of order


def test_due_after_hours_or_at_closing_time() -> None:
    at = datetime(2026, 11, 22, 10, 30)
    assert due_time(at, 4, None) == datetime(2026, 11, 22, 14, 30)
    assert due_time(at, None, time(21, 0)) == datetime(2026, 11, 22, 21, 0)
    assert due_time(datetime(2026, 11, 22, 22, 0), None, time(21, 0)) == datetime(2026, 11, 23, 21, 0)


def test_a_roster_preview_reports_each_bad_row_and_changes_nothing() -> None:
    from kiosk.core.lockers import preview_roster

    text = ("Name,Enrollment,Programme\n"
            "Rahul Sharma,cs2021001,CS\n"
            "Priya Patel,CS2021002,CS\n"
            "Nobody,CS20,CS\n"
            ",EC2021001,EC\n"
            "Rahul Again,CS2021001,CS\n"
            "\n"
            "Amit Kumar,EC2021001,EC\n")
    preview = preview_roster(text, existing={"CS2021002"})
    assert [r.enrollment for r in preview.new] == ["CS2021001", "EC2021001"]
    assert [r.enrollment for r in preview.known] == ["CS2021002"]
    assert [line for line, _ in preview.errors] == [4, 5, 6]
    assert "also on line 2" in preview.errors[2][1]
    assert preview_roster("id,who\n1,2\n", set()).errors == ((1, "the header needs the column(s) enrollment, name"),)
