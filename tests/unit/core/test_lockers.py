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
    assert preview_roster("id,who\n1,2\n", set()).errors == ((1, "the header needs the columns enrollment, name"),)


def test_banks_are_named_by_the_labels_then_by_letter() -> None:
    from kiosk.core.lockers import bank_label, parse_bank_labels

    labels = parse_bank_labels("Ground floor, , Basement")
    assert [bank_label(n, 50, labels) for n in (1, 50, 51, 101, 151)] == \
        ["Ground floor", "Ground floor", "Bank B", "Basement", "Bank D"]
    assert bank_label(1, 50) == "Bank A"


def test_closing_time_parses_or_says_why_not() -> None:
    from datetime import time

    from kiosk.core.lockers import parse_closing

    assert parse_closing(" 21:30 ") == time(21, 30)
    assert parse_closing("") is None
    with pytest.raises(ValueError, match="like 21:30"):
        parse_closing("9pm")
    with pytest.raises(ValueError):
        parse_closing("25:00")


def test_status_and_counts_of_a_board() -> None:
    from kiosk.core.lockers import LockerStatus, count_statuses, locker_status

    now = 1000.0
    statuses = [locker_status(False, None, now), locker_status(True, None, now),
                locker_status(False, 2000.0, now), locker_status(False, 999.0, now), locker_status(False, 1000.0, now)]
    assert statuses == [LockerStatus.FREE, LockerStatus.OUT_OF_ORDER, LockerStatus.IN_USE, LockerStatus.OVERDUE,
                        LockerStatus.OVERDUE]
    counts = count_statuses(statuses)
    assert (counts.free, counts.in_use, counts.overdue, counts.out_of_order, counts.total) == (1, 3, 2, 1, 5)


def test_durations_read_as_a_desk_would_say_them() -> None:
    from kiosk.core.lockers import describe_duration

    assert describe_duration(50) == "1 min"
    assert describe_duration(3725) == "1 h 2 min"
    assert describe_duration(2 * 86400 + 3 * 3600 + 60) == "2 d 3 h"
