from kiosk.core.devices import DeviceInfo, DeviceTracker, LogLimiter, Online
from kiosk.core.tokens import hash_token, new_token, token_matches
from kiosk.protocol.payloads import Heartbeat, Reason, StatusReport


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def tracker(clock: Clock) -> DeviceTracker:
    t = DeviceTracker(clock, offline_after_s=90)
    t.upsert(DeviceInfo("d1", "Stall W-2", "stall", "default", 0.0))
    return t


def test_a_new_device_is_never_seen_until_it_publishes() -> None:
    clock = Clock()
    t = tracker(clock)
    assert t.get("d1").online is Online.NEVER
    snap = t.accepted("d1", object())
    assert snap.online is Online.ONLINE and snap.last_seen == 1_000.0 and snap.received == 1


def test_silence_marks_a_device_offline_after_the_limit() -> None:
    clock = Clock()
    t = tracker(clock)
    t.accepted("d1", object())
    clock.now += 89
    assert t.expire() == []
    clock.now += 2
    changed = t.expire()
    assert [s.online for s in changed] == [Online.NO_SIGNAL]
    assert t.expire() == []  # reported once


def test_rejections_count_and_keep_the_last_reason() -> None:
    clock = Clock()
    t = tracker(clock)
    t.rejected("d1", Reason.NOT_JSON, "not JSON: Expecting value at character 0")
    snap = t.rejected("d1", Reason.TOO_LARGE, "20000 bytes")
    assert (snap.rejected, snap.received, snap.last_reject_reason) == (2, 0, "too_large")


def test_status_and_heartbeat_update_device_facts() -> None:
    clock = Clock()
    t = tracker(clock)
    t.accepted("d1", StatusReport("online", 85, -45, "1.0", None))
    snap = t.accepted("d1", Heartbeat(100, -60, None, "10.0.0.7"))
    assert (snap.battery, snap.signal, snap.firmware, snap.ip) == (85, -60, "1.0", "10.0.0.7")
    assert t.accepted("d1", StatusReport("offline", None, None, None, None)).online is Online.OFFLINE


def test_log_limiter_lets_one_line_a_minute_and_counts_the_rest() -> None:
    clock = Clock()
    limiter = LogLimiter(clock, 60)
    assert limiter.allow("d1", "not_json") == (True, 0)
    assert limiter.allow("d1", "not_json") == (False, 0)
    assert limiter.allow("d1", "too_large") == (True, 0)
    clock.now += 61
    assert limiter.allow("d1", "not_json") == (True, 1)


def test_tokens_are_long_random_and_only_their_hash_is_compared() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 32  # 24 bytes base64url: 192 bits
    stored = hash_token(first)
    assert first not in stored
    assert token_matches(first, stored) and not token_matches(second, stored)


def test_a_device_is_offline_after_missing_about_three_of_its_own_reports() -> None:
    clock = Clock()
    t = tracker(clock)
    for _ in range(4):  # a legacy stall board: every 10 s
        t.accepted("d1", object())
        clock.now += 10
    assert t.get("d1").report_interval_s == 10
    clock.now += 20  # 30 s after the last report: three missed reports, just about
    assert t.expire() == []
    clock.now += 2
    assert [s.online for s in t.expire()] == [Online.NO_SIGNAL]
    assert t.get("d1").last_seen == 1_030.0  # and when it was last seen is kept


def test_a_slow_device_is_not_called_offline_by_the_fixed_default() -> None:
    clock = Clock()
    t = tracker(clock)
    for _ in range(4):  # reports every 5 minutes, far beyond the 90 s default
        t.accepted("d1", object())
        clock.now += 300
    clock.now += 500
    assert t.expire() == []
    clock.now += 150
    assert [s.online for s in t.expire()] == [Online.NO_SIGNAL]


def test_readings_sent_together_count_as_one_report() -> None:
    """An energy meter sends every port at once, every 5 s: its rhythm is 5 s, not the gap between ports."""
    clock = Clock()
    t = tracker(clock)
    for _ in range(5):
        for _port in range(3):
            t.accepted("d1", object())
            clock.now += 0.01
        clock.now += 5 - 0.03
    assert abs(t.get("d1").report_interval_s - 5.0) < 0.1


def test_until_its_rhythm_is_known_the_default_applies() -> None:
    clock = Clock()
    t = tracker(clock)
    t.accepted("d1", object())
    clock.now += 10
    t.accepted("d1", object())  # one gap is not a rhythm yet
    assert t.get("d1").report_interval_s is None
    assert t.silence_limit(t.get("d1")) == 90
