#!/usr/bin/env bash
# `make boot-test` (as root): the package under a real systemd. This machine's own system is booted in a container
# (systemd-nspawn on an overlay of its / under a throwaway layer in memory, a network of its own with only
# loopback), the package is installed there, and what systemd does with the units is checked: the hub started
# as Type=notify, its hardening in force, the share file for kiosk-desk, a kill -9 restarted, a hang caught by the
# watchdog, SIGTERM at stop, the backup unit, the menu entry's desk window of a member of kiosk-desk. Nothing of it
# stays on this machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
[ "$(id -u)" -eq 0 ] || { echo "make boot-test: run as root (it boots a container)" >&2; exit 1; }
command -v systemd-nspawn >/dev/null || { echo "make boot-test: systemd-nspawn is missing (apt-get install systemd-container)" >&2; exit 1; }
[ -x /lib/systemd/systemd ] || { echo "make boot-test: this system has no systemd to boot (apt-get install systemd)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' front-desk-kiosk 2>/dev/null | grep -q "installed"; then
    echo "make boot-test: the package is installed on this machine; the container would boot with it" >&2
    exit 1
fi
DEB=$(ls -t "$ROOT"/dist/front-desk-kiosk_*.deb | head -1)
MACHINE=kiosk-boot-test-$$
LOG=/tmp/$MACHINE.console
BASE=/tmp/$MACHINE
mkdir -p "$BASE/layer" "$BASE/root"
mount -t tmpfs -o size=4G,mode=0755 boot-test-layer "$BASE/layer"
mkdir "$BASE/layer/upper" "$BASE/layer/work"
# This system's files as the container's /, read-only underneath; what the container writes stays in memory.
mount -t overlay boot-test-root -o "lowerdir=/,upperdir=$BASE/layer/upper,workdir=$BASE/layer/work" "$BASE/root"
systemd-id128 new > "$BASE/root/etc/machine-id"  # its own machine, its own journal
echo "boot-test: booting this machine's system in a container ($MACHINE)"
# No registration with a machined and no scope unit of its own: this machine may run no systemd at all.
systemd-nspawn --quiet --register=no --keep-unit --link-journal=no --directory="$BASE/root" --private-network \
    --machine="$MACHINE" \
    --bind-ro="$(dirname "$DEB"):/mnt/dist" --bind-ro="$ROOT:/mnt/checkout" --boot \
    systemd.mask=mosquitto.service systemd.mask=postgresql.service systemd.mask=getty@tty1.service \
    systemd.mask=console-getty.service systemd.mask=apt-daily.timer systemd.mask=apt-daily-upgrade.timer \
    systemd.mask=man-db.timer > "$LOG" 2>&1 < /dev/null &
NSPAWN=$!
cleanup() {
    code=$?
    if [ -n "${LEADER:-}" ] && kill -0 "$LEADER" 2>/dev/null; then
        kill -RTMIN+4 "$LEADER" 2>/dev/null || true  # systemd's "power off"
        for _ in $(seq 1 150); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
        # Still up after 15 s: the end of its PID 1 ends every process of the container.
        kill -0 "$NSPAWN" 2>/dev/null && kill -KILL "$LEADER" 2>/dev/null
    fi
    kill -0 "$NSPAWN" 2>/dev/null && kill -KILL "$NSPAWN" 2>/dev/null
    wait "$NSPAWN" 2>/dev/null || true
    umount "$BASE/root" 2>/dev/null || umount -l "$BASE/root" 2>/dev/null || true
    umount "$BASE/layer" 2>/dev/null || umount -l "$BASE/layer" 2>/dev/null || true
    rmdir "$BASE/root" "$BASE/layer" "$BASE" 2>/dev/null || true
    if [ $code -ne 0 ]; then echo "boot-test: failed; the container's console:" >&2; tail -40 "$LOG" >&2; fi
    rm -f "$LOG"
}
trap cleanup EXIT
LEADER=""
for _ in $(seq 1 200); do  # the container's PID 1 (nspawn's first child only forks it, then goes)
    LEADER=$(pgrep -P "$NSPAWN" -x systemd | head -1 || true)
    [ -n "$LEADER" ] && break
    sleep 0.1
done
[ -n "$LEADER" ] || { echo "boot-test: the container did not start" >&2; exit 1; }
inside() { nsenter --target "$LEADER" --mount --uts --ipc --net --pid -- "$@"; }
state=""
for _ in $(seq 1 300); do  # until its systemd answers (its socket comes a moment after it starts) and has booted
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 0.2
done
echo "boot-test: the container's systemd is up ($state)"
[ "$state" = "running" ] || [ "$state" = "degraded" ] || { echo "boot-test: systemd did not come up" >&2; exit 1; }

echo "boot-test: installing $(basename "$DEB") (its postinst enables and starts kiosk-hub)"
inside env DEBIAN_FRONTEND=noninteractive dpkg -i "/mnt/dist/$(basename "$DEB")" >/dev/null
unit() { inside systemctl show kiosk-hub.service -p "$1" --value; }
for _ in $(seq 1 300); do [ "$(unit ActiveState)" = "active" ] && break; sleep 0.2; done
[ "$(unit ActiveState)" = "active" ] || { inside systemctl status kiosk-hub --no-pager >&2; exit 1; }
[ "$(unit Type)" = "notify" ] && [ "$(unit WatchdogUSec)" = "30s" ] && [ "$(unit User)" = "kiosk" ]
echo "boot-test: kiosk-hub is active (it said READY=1), as kiosk, watchdog 30 s"
status() {
    inside /opt/front-desk-kiosk/venv/bin/python -c 'import json, urllib.request
try:
    print(json.loads(urllib.request.urlopen("http://127.0.0.1:8080/api/v1/health", timeout=2).read())["status"])
except Exception as exc:
    print("down:", exc)'
}
for _ in $(seq 1 100); do [ "$(status)" = "ok" ] && break; sleep 0.2; done
[ "$(status)" = "ok" ] || { echo "boot-test: the hub's health is $(status)" >&2; exit 1; }

echo "boot-test: its hardening is in force"
pid=$(unit MainPID)
inside grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status"
inside grep -q '^CapEff:[[:space:]]*0000000000000000' "/proc/$pid/status"
in_hub() { inside nsenter --target "$pid" --mount -- "$@"; }  # the hub's own view of the files
! in_hub touch /usr/.boot-test 2>/dev/null || { echo "boot-test: /usr is writable for the hub" >&2; exit 1; }
in_hub sh -c 'touch /var/lib/front-desk-kiosk/.boot-test /etc/front-desk-kiosk/.boot-test'
in_hub rm /var/lib/front-desk-kiosk/.boot-test /etc/front-desk-kiosk/.boot-test
[ -z "$(in_hub ls -A /home 2>/dev/null)" ] || { echo "boot-test: the hub sees /home" >&2; exit 1; }
inside systemd-analyze security kiosk-hub.service --no-pager 2>/dev/null | tail -1

echo "boot-test: the share file for the menu entry's desk window"
inside sh -c '[ "$(stat -c %a:%U:%G /run/front-desk-kiosk/desk.json)" = "640:kiosk:kiosk-desk" ]'
inside useradd --create-home --groups kiosk-desk boot-test-member
inside runuser -u boot-test-member -- env QT_QPA_PLATFORM=offscreen HOME=/home/boot-test-member \
    timeout 60 sh -c '/usr/bin/kiosk --hub-file /run/front-desk-kiosk/desk.json > /tmp/member-window.log 2>&1 &
        pid=$!; for i in $(seq 1 300); do grep -q "attached to the hub service" /tmp/member-window.log && break; sleep 0.2; done
        kill -TERM $pid; wait $pid; code=$?; cat /tmp/member-window.log; grep -q "attached to the hub service" /tmp/member-window.log && [ $code -eq 0 ]' \
    > /tmp/$MACHINE.window || { cat /tmp/$MACHINE.window >&2; exit 1; }
rm -f /tmp/$MACHINE.window
[ "$(unit ActiveState)" = "active" ] || { echo "boot-test: the member's window stopped the hub" >&2; exit 1; }
echo "boot-test: a member of kiosk-desk opened the desk window on the service's hub; quitting it left the hub running"

echo "boot-test: kill -9 of the hub: systemd starts it again (Restart=on-failure)"
inside kill -9 "$pid"
for _ in $(seq 1 300); do [ "$(unit NRestarts)" = "1" ] && [ "$(unit ActiveState)" = "active" ] && break; sleep 0.2; done
[ "$(unit NRestarts)" = "1" ] && [ "$(unit ActiveState)" = "active" ] || { inside journalctl -u kiosk-hub --no-pager | tail -20 >&2; exit 1; }
[ "$(unit MainPID)" != "$pid" ]
for _ in $(seq 1 100); do [ "$(status)" = "ok" ] && break; sleep 0.2; done

echo "boot-test: a hung hub (SIGSTOP) is caught by the watchdog (set to 5 s here) and started again"
inside mkdir -p /run/systemd/system/kiosk-hub.service.d
inside sh -c 'printf "[Service]\nWatchdogSec=5\n" > /run/systemd/system/kiosk-hub.service.d/boot-test.conf'
inside systemctl daemon-reload
inside systemctl restart kiosk-hub.service
for _ in $(seq 1 300); do [ "$(unit ActiveState)" = "active" ] && break; sleep 0.2; done
pid=$(unit MainPID)
restarts=$(unit NRestarts)
inside kill -STOP "$pid"
for _ in $(seq 1 300); do [ "$(unit NRestarts)" -gt "$restarts" ] && [ "$(unit ActiveState)" = "active" ] && break; sleep 0.2; done
[ "$(unit NRestarts)" -gt "$restarts" ] || { echo "boot-test: the watchdog did not restart the hung hub" >&2; exit 1; }
journal=$(inside journalctl -u kiosk-hub --no-pager)  # (grep -q on a pipe would leave journalctl a SIGPIPE)
grep -q "Watchdog timeout" <<< "$journal" || { echo "boot-test: the journal does not say the watchdog fired" >&2; exit 1; }
inside rm -rf /run/systemd/system/kiosk-hub.service.d
inside systemctl daemon-reload
inside systemctl restart kiosk-hub.service

echo "boot-test: logs in the journal with their priority"
journal=$(inside journalctl -u kiosk-hub -p info --no-pager -o cat)
grep -q "desk windows of the group kiosk-desk may attach" <<< "$journal"
! grep -q "Traceback" <<< "$journal" || { echo "boot-test: a traceback in the hub's journal" >&2; exit 1; }

echo "boot-test: the daily backup unit, run now"
inside systemctl start kiosk-backup.service
[ "$(inside systemctl show kiosk-backup.service -p Result --value)" = "success" ]
inside sh -c 'ls /var/lib/front-desk-kiosk/backups/*/MANIFEST.json >/dev/null'
[ "$(inside systemctl show kiosk-backup.timer -p ActiveState --value)" = "active" ]

echo "boot-test: systemctl stop: SIGTERM, exit 0, the share file gone"
inside systemctl stop kiosk-hub.service
[ "$(unit ActiveState)" = "inactive" ] && [ "$(unit ExecMainStatus)" = "0" ] && [ "$(unit Result)" = "success" ]
inside test ! -e /run/front-desk-kiosk/desk.json
echo "boot-test: ok"
