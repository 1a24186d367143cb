from datetime import datetime, timezone

from kiosk.core.stall_analytics import occupancy

MONDAY_9 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc).timestamp()


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def test_uses_time_in_use_and_the_busiest_hour() -> None:
    t = MONDAY_9
    events = [(1, t - 3600, "vacant"), (1, t + 60, "occupied"), (1, t + 360, "vacant"),
              (1, t + 600, "occupied"), (1, t + 900, "vacant"),
              (2, t - 100, "occupied"), (2, t + 300, "vacant"), (2, t + 3700, "occupied")]
    result = occupancy(events, t, t + 7200, local=utc)
    one, two = result.stalls[1], result.stalls[2]
    assert (one.uses, one.occupied_s, one.mean_use_s) == (2, 600.0, 300.0)
    assert one.uses_per_hour == 1.0
    # stall 2 was in use when the range began: its time counts, not as a use started in the range
    assert (two.uses, two.occupied_s) == (1, 300.0 + 3500.0)
    assert result.heat[0][9] == 2 and result.heat[0][10] == 1
    assert result.busiest(2) == [(0, 9, 2), (0, 10, 1)]


def test_no_signal_is_neither_use_nor_free_and_an_empty_range_is_empty() -> None:
    t = MONDAY_9
    result = occupancy([(1, t, "no_signal"), (1, t + 100, "vacant")], t, t + 3600, local=utc)
    assert result.stalls[1].uses == 0 and result.stalls[1].occupied_s == 0 and result.stalls[1].mean_use_s is None
    assert occupancy([], t, t + 3600).stalls == {} and occupancy([], t, t + 3600).busiest() == []
