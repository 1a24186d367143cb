"""An installed kiosk, tried as its first user would (make deb-test, and the bundle's check): `kiosk --help`, then
the headless hub on free ports with its own data folder: it starts, a device is added with the CLI, logs in with
its token, publishes readings at QoS 1, they are stored, and SIGTERM stops the hub with exit code 0.

    python packaging/smoke.py KIOSK_COMMAND [--user USER] [--data-dir DIR] [--window]

With --window, then the desk window too (offscreen): it starts its own hub as a separate process, and SIGTERM to
the window stops both.

With --desk-users MEMBER,OUTSIDER (and --user, the hub's): the hub again, sharing itself as the package's service
does (desk.share_file in a folder like /run/front-desk-kiosk, for the group kiosk-desk), and the desk window of the
menu entry (`kiosk --hub-file FILE`) as two other people: MEMBER (in kiosk-desk) attaches and quitting leaves the
hub running; OUTSIDER is told which group to join.

Runs the installed program as `USER` (with that user's groups) when given. Needs paho-mqtt here (the checkout's
.venv).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise SystemExit(f"smoke: {what} within {seconds:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kiosk", help="the installed program, e.g. /usr/bin/kiosk or dist/front-desk-kiosk/kiosk")
    parser.add_argument("--user", default="", help="run it as this user (needs root)")
    parser.add_argument("--data-dir", default="", help="its data folder (default: a new temporary one)")
    parser.add_argument("--window", action="store_true", help="also start the desk window (offscreen)")
    parser.add_argument("--desk-users", default="", metavar="MEMBER,OUTSIDER",
                        help="also open the hub service's desk window as these two users (needs --user)")
    args = parser.parse_args()
    import paho.mqtt.client as mqtt

    data = Path(args.data_dir or tempfile.mkdtemp(prefix="kiosk-smoke-"))
    if args.user:
        subprocess.run(["install", "-d", "-m", "0700", "-o", args.user, str(data)], check=True)
    broker, http = free_port(), free_port()
    env = {"PATH": "/usr/bin:/bin", "KIOSK_DATA_DIR": str(data), "KIOSK_CONFIG_DIR": str(data / "config"),
           "KIOSK_BROKER_BIND": "127.0.0.1", "KIOSK_HTTP_BIND": "127.0.0.1", "LANG": "C.UTF-8"}
    # The program itself runs as the user (no runuser in between, which would take the SIGTERM for itself).
    as_user: dict[str, object] = {}
    if args.user:
        as_user = run_as(args.user)
        env["HOME"] = str(as_user.pop("home"))
    common = ["--broker-port", str(broker), "--http-port", str(http)]

    def kiosk(*words: str) -> str:
        done = subprocess.run([args.kiosk, *common, *words], env=env, capture_output=True, text=True, timeout=120,
                              **as_user)  # type: ignore[call-overload]
        if done.returncode != 0:
            raise SystemExit(f"smoke: `kiosk {' '.join(words)}` exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout

    started = time.monotonic()
    helped = kiosk("--help")
    assert "--headless" in helped, helped
    print(f"smoke: kiosk --help ok ({time.monotonic() - started:.1f} s)")
    hub = subprocess.Popen([args.kiosk, *common, "--headless"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True,
                           **as_user)  # type: ignore[call-overload]
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/v1/health", timeout=1) as answer:
                    return json.loads(answer.read())["status"] == "ok"
            except OSError:
                return False

        wait(healthy, 60, "the hub did not say it is healthy")
        print(f"smoke: hub healthy ({time.monotonic() - started:.1f} s after the start)")
        made = kiosk("device", "add", "--name", "Smoke meter", "--kind", "energy")
        device_id = made.split("device id:")[1].split()[0]
        token = made.split("token:")[1].split()[0]
        acked = []
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
        client.username_pw_set(device_id, token)
        client.on_publish = lambda _c, _u, mid, _rc, _p: acked.append(mid)
        client.connect("127.0.0.1", broker)
        client.loop_start()
        for n in range(5):
            client.publish(f"devices/{device_id}/datastream",
                           json.dumps({"voltage": 230.0, "current": 0.1 * (n + 1), "power": 23.0 * (n + 1)}), qos=1)
        wait(lambda: len(acked) == 5, 15, "5 readings were not acknowledged")
        client.loop_stop()
        client.disconnect()
        wait(lambda: any(device_id in line and " 5 " in f" {line} " for line in kiosk("device", "list").splitlines()),
             15, "the device list did not show 5 messages")
        print("smoke: a device logged in with its token; 5 readings acknowledged and stored")
    finally:
        output = stop(hub)
    exited_zero(hub, output, "the hub")
    print("smoke: SIGTERM stopped the hub with exit code 0")
    if args.window:
        window = subprocess.Popen([args.kiosk, *common], env={**env, "QT_QPA_PLATFORM": "offscreen"},
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True, **as_user)  # type: ignore[call-overload]
        try:
            wait(healthy, 60, "the window did not start its hub")
            print("smoke: the desk window started its hub (a process of its own) and it is healthy")
        finally:
            window.send_signal(signal.SIGTERM)  # the window, not its group: the hub must be stopped by the window
            output, _ = window.communicate(timeout=30)
        if window.returncode != 0:
            print(output[-3000:])
            raise SystemExit(f"smoke: the window exited {window.returncode} on SIGTERM")
        wait(lambda: not healthy(), 30, "the hub the window started kept running after the window stopped")
        print("smoke: SIGTERM to the window stopped it and the hub it started")
    if args.desk_users:
        member, outsider = args.desk_users.split(",")
        shared_desk(args.kiosk, common, env, as_user, healthy, member, outsider)
    return 0


def stop(hub: subprocess.Popen) -> str:
    """SIGTERM to the hub's process group (as systemd does); what it printed."""
    if hub.poll() is None:
        os.killpg(hub.pid, signal.SIGTERM)
    output, _ = hub.communicate(timeout=30)
    return str(output)


def exited_zero(hub: subprocess.Popen, output: str, what: str) -> None:
    if hub.returncode != 0:
        print(output[-3000:])
        raise SystemExit(f"smoke: {what} exited {hub.returncode} on SIGTERM")


def run_as(user: str) -> dict[str, object]:
    """Popen's arguments to run a program as `user` with all its groups (and its home, under "home")."""
    import grp
    import pwd

    account = pwd.getpwnam(user)
    return {"user": account.pw_uid, "group": account.pw_gid,
            "extra_groups": [g.gr_gid for g in grp.getgrall() if user in g.gr_mem], "home": account.pw_dir}


def shared_desk(kiosk: str, common: list[str], env: dict[str, str], as_hub: dict[str, object], healthy,
                member: str, outsider: str) -> None:
    """The hub sharing itself as kiosk-hub.service has it do; the menu entry's window as a member of kiosk-desk and
    as someone outside it."""
    run = Path(tempfile.mkdtemp(prefix="kiosk-smoke-run-"))
    os.chown(run, int(as_hub["user"]), -1)  # type: ignore[call-overload]
    os.chmod(run, 0o755)  # as systemd makes RuntimeDirectory= with RuntimeDirectoryMode=0755
    share = run / "desk.json"
    hub = subprocess.Popen([kiosk, *common, "--headless"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**env, "KIOSK_DESK_SHARE_FILE": str(share), "KIOSK_DESK_SHARE_GROUP": "kiosk-desk"},
                           start_new_session=True, **as_hub)  # type: ignore[call-overload]
    try:
        wait(healthy, 60, "the sharing hub did not say it is healthy")
        mode = share.stat()
        import grp

        assert oct(mode.st_mode & 0o777) == "0o640" and grp.getgrgid(mode.st_gid).gr_name == "kiosk-desk", \
            f"{share} is {oct(mode.st_mode & 0o777)} for group {mode.st_gid}"
        for person, expected in ((member, "attached to the hub service"),
                                 (outsider, "only members of the group kiosk-desk may open its desk window")):
            account = run_as(person)
            home = str(account.pop("home"))
            log = Path(tempfile.mkdtemp(prefix="kiosk-smoke-desk-")) / "window.log"
            window_env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen"}
            with open(log, "w") as output:
                window = subprocess.Popen([kiosk, "--hub-file", str(share)], env=window_env, stdout=output,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          **account)  # type: ignore[call-overload]
            try:
                wait(lambda log=log, expected=expected: expected in log.read_text(errors="replace"), 60,
                     f"the desk window of {person} did not say {expected!r}")
            except SystemExit:
                print(log.read_text(errors="replace")[-3000:])
                raise
            finally:
                window.send_signal(signal.SIGTERM)
                code = window.wait(30)
            text = log.read_text(errors="replace")
            assert code == 0 and "Traceback" not in text, f"the window of {person} exited {code}: {text[-3000:]}"
            assert healthy(), f"the hub stopped when the window of {person} quit"
            print(f"smoke: the menu entry's desk window as {person}: {expected}")
    finally:
        output = stop(hub)
    exited_zero(hub, output, "the sharing hub")
    assert not share.exists(), "the hub left its share file behind"
    print("smoke: the sharing hub stopped with exit code 0 and removed its share file")


if __name__ == "__main__":
    sys.exit(main())
