"""Failed logins slow down the key that fails, never a good login, and forget a quiet key."""

from kiosk.core.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_beyond_the_free_ones_wait_longer_and_longer() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock, free=3, hold_s=1.0, max_hold_s=8.0)
    assert [throttle.failed("addr:10.0.0.9") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [throttle.failed("addr:10.0.0.9") for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert throttle.hold("addr:10.0.0.9") == 8.0 and throttle.hold("addr:10.0.0.10") == 0.0
    assert throttle.stats().held_keys == 1 and throttle.stats().slowed == 5


def test_the_longest_hold_of_the_address_and_the_name_applies() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock, free=1, hold_s=2.0)
    throttle.failed("user:dev-1")
    throttle.failed("user:dev-1")
    assert throttle.hold("addr:10.0.0.9", "user:dev-1") == 2.0


def test_a_quiet_key_is_forgotten_and_a_good_login_clears_its_name() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock, free=2, window_s=60, hold_s=1.0)
    for _ in range(4):
        throttle.failed("addr:a", "user:u")
    clock.now += 61 + 2
    assert throttle.hold("addr:a") == 0.0
    assert throttle.failed("addr:a") == 0.0  # a new window: the free failures again
    throttle.succeeded("user:u")
    assert throttle.hold("user:u") == 0.0


def test_too_many_waiting_answers_refuse_the_key_unchecked() -> None:
    throttle = FailureThrottle(Clock(), max_waiting=2)
    throttle.failed("addr:a")
    throttle.waiting("addr:a", +1)
    assert not throttle.too_busy("addr:a")
    throttle.waiting("addr:a", +1)
    assert throttle.too_busy("addr:a") and throttle.stats().refused_unchecked == 1
    throttle.waiting("addr:a", -2)
    assert not throttle.too_busy("addr:a")


def test_memory_is_bounded_by_max_keys() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock, max_keys=100)
    for n in range(1000):
        throttle.failed(f"addr:{n}")
        clock.now += 0.001
    assert len(throttle._keys) <= 100

