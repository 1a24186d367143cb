"""Notifications are said the same way on every page: when, and whether it is going on, over or acknowledged."""

from __future__ import annotations

import time
from types import SimpleNamespace

from kiosk.ui.widgets.notice_words import moment, notice_state

NOW = time.mktime((2026, 12, 3, 10, 0, 0, 0, 0, -1))


def notice(ended_at: float | None = None, acknowledged_by: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(ended_at=ended_at, acknowledged_at=NOW if acknowledged_by else None,
                           acknowledged_by=acknowledged_by)


def test_moments_say_today_yesterday_or_the_date() -> None:
    assert moment(NOW - 3600, NOW) == "09:00"
    assert moment(NOW - 12 * 3600, NOW) == "yesterday 22:00"
    assert moment(NOW - 3 * 86400, NOW) == "30 Nov 10:00"


def test_a_notice_is_going_on_over_since_or_acknowledged() -> None:
    assert notice_state(notice(), NOW) == "going on"
    assert notice_state(notice(ended_at=NOW - 600), NOW) == "over since 09:50"
    assert notice_state(notice(ended_at=NOW - 13 * 3600), NOW) == "over since yesterday 21:00"
    assert notice_state(notice(ended_at=NOW - 60, acknowledged_by="Asha"), NOW) == "acknowledged by Asha"
