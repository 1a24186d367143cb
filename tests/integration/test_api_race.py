"""Two station processes race to assign lockers against one hub: never a double assignment, and every loser is
told why (409 raced / refused), never a 500."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.core.operators import Operator, Role
from kiosk.services.hub import Hub
from kiosk.store.models import LockerAssignment

STATION = textwrap.dedent("""
    import json, sys
    from kiosk.client.http import ApiClient
    from kiosk.client.lockers import RemoteLockers
    from kiosk.core.lockers import AlreadyAssigned, LockerError, LockerRace

    url, token, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    desk = RemoteLockers(ApiClient(url, token))
    sys.stdin.readline()  # both stations start together
    outcomes = []
    for i in range(count):
        member = f"AB{1000000 + (first + i) % 40}"
        try:
            outcomes.append(["assigned", member, desk.assign(member).locker])
        except AlreadyAssigned as exc:
            outcomes.append(["already_assigned", member, exc.locker])
        except LockerRace as exc:
            outcomes.append(["raced", member, str(exc)])
        except LockerError as exc:
            outcomes.append(["refused", member, str(exc)])
    print(json.dumps(outcomes))
""")


def test_two_stations_racing_never_double_assign(hub: Hub) -> None:
    for i in range(40):
        hub.lockers.add_member(f"AB{1000000 + i}", f"M{i}", "", Operator("root", Role.ADMIN))
    hub.lockers.ensure_lockers(25)
    url = f"http://127.0.0.1:{hub.config['http.port']}"
    tokens = [hub.registry.create(f"Desk {n}", "station", "test")[1] for n in (1, 2)]
    stations = [subprocess.Popen([sys.executable, "-c", STATION, url, token, str(first), "40"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for token, first in zip(tokens, (0, 0))]
    results = []
    try:
        for station in stations:
            assert station.stdin is not None
            station.stdin.write("go\n")
            station.stdin.flush()
        for station in stations:
            out, err = station.communicate(timeout=60)
            assert station.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for station in stations:
            if station.poll() is None:
                station.kill()
            station.communicate()
    outcomes = Counter(kind for result in results for kind, _, _ in result)
    assert set(outcomes) <= {"assigned", "already_assigned", "raced", "refused"}, outcomes
    assigned = [(member, locker) for result in results for kind, member, locker in result if kind == "assigned"]
    assert len(assigned) == 25, "25 lockers, 40 members: exactly the lockers there are were given"
    assert len({locker for _, locker in assigned}) == 25 and len({member for member, _ in assigned}) == 25
    assert outcomes["already_assigned"] + outcomes["raced"] >= 1, "both stations served the same members"
    with Session(hub.engine) as session:
        active = session.execute(select(LockerAssignment.locker, func.count()).where(
            LockerAssignment.released_at.is_(None)).group_by(LockerAssignment.locker)).all()
    assert len(active) == 25 and all(count == 1 for _, count in active)
