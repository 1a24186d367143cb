"""How a notification's state is said, the same on every page that lists notifications."""

from __future__ import annotations

import time
from typing import Any


def notice_state(notice: Any, now: float | None = None) -> str:
    """"acknowledged by Asha", "over since 21:51" (a date when not today), or "going on"."""
    if notice.acknowledged_at is not None:
        return f"acknowledged by {notice.acknowledged_by}"
    if notice.ended_at is not None:
        return f"over since {moment(notice.ended_at, now)}"
    return "going on"


def moment(at: float, now: float | None = None) -> str:
    """21:51 today, "yesterday 21:51", else "28 Nov 21:51"."""
    here, today = time.localtime(at), time.localtime(now if now is not None else time.time())
    clock = time.strftime("%H:%M", here)
    if (here.tm_year, here.tm_yday) == (today.tm_year, today.tm_yday):
        return clock
    yesterday = time.localtime((now if now is not None else time.time()) - 86400)
    if (here.tm_year, here.tm_yday) == (yesterday.tm_year, yesterday.tm_yday):
        return f"yesterday {clock}"
    return time.strftime("%d %b %H:%M", here).lstrip("0")
