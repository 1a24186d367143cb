"""The broker's gatekeeper with a real registry on a SQLite file: who is checked while an address is flooded."""

from pathlib import Path

from kiosk.core.throttle import FailureThrottle
from tests.unit.core.test_throttle import Clock


def test_the_hubs_own_account_is_checked_even_while_its_address_is_flooded(tmp_path: Path) -> None:
    import asyncio

    from kiosk.services.broker.gatekeeper import Gatekeeper, internal_credentials
    from kiosk.store.db import open_store
    from kiosk.store.devices import DeviceRegistry

    internal = internal_credentials(tmp_path)
    gatekeeper = Gatekeeper(DeviceRegistry(open_store(f"sqlite:///{tmp_path / 'k.db'}")), internal,
                            throttle=FailureThrottle(Clock(), max_waiting=1))
    gatekeeper.throttle.failed("addr:127.0.0.1")
    gatekeeper.throttle.waiting("addr:127.0.0.1", +1)  # a refusal from this machine waits for its answer

    async def logins() -> tuple[bool, bool]:
        device = await gatekeeper.authenticate("someone", "x", "c1", "127.0.0.1")
        hub = await gatekeeper.authenticate(internal.username, internal.password, "hub", "127.0.0.1")
        return device, hub

    assert asyncio.run(logins()) == (False, True)
    assert gatekeeper.refused["too many failed logins"] == 1
