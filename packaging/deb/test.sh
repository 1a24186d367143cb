#!/usr/bin/env bash
# `make deb-test` (as root, on a Debian/Ubuntu machine or container): install the package built by `make deb`, try
# it as a user would, upgrade over it, purge it, and check that nothing of it is left but the library's data.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
[ "$(id -u)" -eq 0 ] || { echo "make deb-test: run as root (it installs and removes a package)" >&2; exit 1; }
DEB=$(ls -t dist/front-desk-kiosk_*.deb | head -1)
DATA=/var/lib/front-desk-kiosk
# It installs, purges and deletes /var/lib/front-desk-kiosk: never on a machine that has a kiosk of its own.
if dpkg-query -W -f='${Status}' front-desk-kiosk 2>/dev/null | grep -q "installed" || [ -e "$DATA" ]; then
    echo "make deb-test: this machine has the kiosk installed or its data in $DATA; run deb-test in a container" >&2
    exit 1
fi
# Two people signed in at the PC for the menu entry's desk window: one in kiosk-desk, one not (removed at the end).
DESK_MEMBER=deb-test-member
DESK_OUTSIDER=deb-test-outsider
trap 'code=$?; userdel -r "$DESK_MEMBER" >/dev/null 2>&1 || true; userdel -r "$DESK_OUTSIDER" >/dev/null 2>&1 || true;
      if [ $code -ne 0 ]; then echo "deb-test: failed; purging the package" >&2;
      apt-get purge -y -qq front-desk-kiosk >/dev/null 2>&1 || true; rm -rf "$DATA"; fi' EXIT
export DEBIAN_FRONTEND=noninteractive
# An older release of the same package, to upgrade from: the package built here, labelled 0.0.1~older.
OLDER=/tmp/front-desk-kiosk_older.deb
rm -rf /tmp/deb-test-older
dpkg-deb -R "$DEB" /tmp/deb-test-older
sed -i 's/^Version: .*/Version: 0.0.1~older/' /tmp/deb-test-older/DEBIAN/control
dpkg-deb --root-owner-group -Zgzip -z1 --build /tmp/deb-test-older "$OLDER" >/dev/null
rm -rf /tmp/deb-test-older
echo "deb-test: installing the older release, $OLDER"
apt-get install -y -qq "$OLDER" >/dev/null
test -x /usr/bin/kiosk
getent passwd kiosk >/dev/null || { echo "deb-test: no kiosk user" >&2; exit 1; }
id -nG kiosk | grep -qw dialout || { echo "deb-test: kiosk is not in dialout" >&2; exit 1; }
[ "$(stat -c %a:%U "$DATA")" = "700:kiosk" ] || { echo "deb-test: $DATA is $(stat -c %a:%U "$DATA")" >&2; exit 1; }
[ "$(stat -c %a:%U /etc/front-desk-kiosk)" = "750:kiosk" ] || { echo "deb-test: the settings folder is not the hub's" >&2; exit 1; }
test -f /lib/systemd/system/kiosk-hub.service && grep -q '^ExecStart=/usr/bin/kiosk --headless' /lib/systemd/system/kiosk-hub.service
test -f /lib/udev/rules.d/99-front-desk-kiosk.rules
grep -q '^ExecStart=/usr/bin/kiosk backup /var/lib/front-desk-kiosk/backups --keep-days 14' \
    /lib/systemd/system/kiosk-backup.service
test -f /lib/systemd/system/kiosk-backup.timer
grep -q '^ExecStart=/usr/bin/cage -d -- /usr/bin/kiosk --display$' /lib/systemd/system/kiosk-display@.service
grep -q '^ExecStart=/usr/bin/cage -d -- /usr/bin/kiosk$' /lib/systemd/system/kiosk-desk@.service

getent group kiosk-desk >/dev/null && id -nG kiosk | grep -qw kiosk-desk ||
    { echo "deb-test: no group kiosk-desk with the kiosk user in it" >&2; exit 1; }
grep -q '^Exec=/usr/bin/kiosk --hub-file /run/front-desk-kiosk/desk.json$' \
    /usr/share/applications/front-desk-kiosk.desktop || { echo "deb-test: no menu entry for the desk window" >&2; exit 1; }
useradd --create-home --groups kiosk-desk "$DESK_MEMBER"
useradd --create-home "$DESK_OUTSIDER"

echo "deb-test: the installed program, as the kiosk user, in its own data folder; the menu entry's desk window"
.venv/bin/python packaging/smoke.py /usr/bin/kiosk --user kiosk --data-dir "$DATA/smoke" --window \
    --desk-users "$DESK_MEMBER,$DESK_OUTSIDER"
echo "deb-test: kiosk doctor (Qt offscreen)"
runuser -u kiosk -- env QT_QPA_PLATFORM=offscreen KIOSK_DATA_DIR="$DATA/smoke" KIOSK_CONFIG_DIR="$DATA/smoke/config" \
    /usr/bin/kiosk doctor > /tmp/deb-doctor.txt || true  # (a port this machine uses may be taken: not the point)
cat /tmp/deb-doctor.txt
grep -q "ok   display: Qt opens a window here (offscreen)" /tmp/deb-doctor.txt

echo "deb-test: $DEB over the older release (an upgrade keeps the data, with a backup first)"
runuser -u kiosk -- env KIOSK_DATA_DIR="$DATA" KIOSK_CONFIG_DIR=/etc/front-desk-kiosk /usr/bin/kiosk \
    device add --name "Kept upgraded" --kind stall >/dev/null
dpkg -i "$DEB" >/dev/null
rm -f "$OLDER"
[ "$(dpkg-query -W -f='${Version}' front-desk-kiosk)" != "0.0.1~older" ] || { echo "deb-test: not upgraded" >&2; exit 1; }
ls -d "$DATA"/backups/before-*-from-0.0.1~older >/dev/null ||
    { echo "deb-test: no backup before the upgrade" >&2; exit 1; }
runuser -u kiosk -- env KIOSK_DATA_DIR="$DATA" KIOSK_CONFIG_DIR=/etc/front-desk-kiosk /usr/bin/kiosk device list |
    grep -q "Kept upgraded" || { echo "deb-test: the device was lost in the upgrade" >&2; exit 1; }

echo "deb-test: a data folder of another user is said in one line, with a non-zero exit"
install -d -m 0700 -o root -g root /tmp/deb-test-roots-folder
set +e
runuser -u kiosk -- env KIOSK_DATA_DIR=/tmp/deb-test-roots-folder KIOSK_CONFIG_DIR=/tmp/deb-test-config \
    /usr/bin/kiosk --headless --http-port 0 > /tmp/deb-test-other.txt 2>&1
code=$?
set -e
rm -rf /tmp/deb-test-roots-folder
cat /tmp/deb-test-other.txt
[ "$code" -ne 0 ] || { echo "deb-test: it started on another user's folder" >&2; exit 1; }
! grep -q Traceback /tmp/deb-test-other.txt || { echo "deb-test: a traceback instead of a sentence" >&2; exit 1; }

echo "deb-test: removed (not purged), then installed again: the data and the user are still there"
apt-get remove -y -qq front-desk-kiosk >/dev/null
[ -f "$DATA/kiosk.db" ] && getent passwd kiosk >/dev/null
apt-get install -y -qq "./$DEB" >/dev/null
runuser -u kiosk -- env KIOSK_DATA_DIR="$DATA" KIOSK_CONFIG_DIR=/etc/front-desk-kiosk /usr/bin/kiosk device list |
    grep -q "Kept upgraded" || { echo "deb-test: the device was lost between remove and install" >&2; exit 1; }

echo "deb-test: a backup restored onto an empty machine (purged, data gone, installed again)"
runuser -u kiosk -- env KIOSK_DATA_DIR="$DATA" KIOSK_CONFIG_DIR=/etc/front-desk-kiosk /usr/bin/kiosk \
    backup "$DATA/backups/before-the-move" >/dev/null
cp -a "$DATA/backups/before-the-move" /var/tmp/deb-test-backup  # kept away from what the purge removes
apt-get purge -y -qq front-desk-kiosk >/dev/null
rm -rf "$DATA"
apt-get install -y -qq "./$DEB" >/dev/null
runuser -u kiosk -- env KIOSK_DATA_DIR="$DATA" KIOSK_CONFIG_DIR=/etc/front-desk-kiosk /usr/bin/kiosk \
    restore /var/tmp/deb-test-backup
rm -rf /var/tmp/deb-test-backup
runuser -u kiosk -- env KIOSK_DATA_DIR="$DATA" KIOSK_CONFIG_DIR=/etc/front-desk-kiosk /usr/bin/kiosk device list |
    grep -q "Kept upgraded" || { echo "deb-test: the restored machine lost the device" >&2; exit 1; }

echo "deb-test: purge"
apt-get purge -y -qq front-desk-kiosk >/dev/null
left=""
for path in /opt/front-desk-kiosk /usr/bin/kiosk /etc/front-desk-kiosk /lib/systemd/system/kiosk-hub.service \
            /lib/systemd/system/kiosk-backup.service /lib/systemd/system/kiosk-backup.timer \
            /lib/systemd/system/kiosk-display@.service /lib/systemd/system/kiosk-desk@.service \
            /lib/udev/rules.d/99-front-desk-kiosk.rules /usr/share/applications/front-desk-kiosk.desktop \
            /usr/share/doc/front-desk-kiosk; do
    [ -e "$path" ] && left="$left $path"
done
getent passwd kiosk >/dev/null && left="$left user:kiosk"
getent group kiosk-desk >/dev/null && left="$left group:kiosk-desk"
[ -z "$left" ] || { echo "deb-test: left after the purge:$left" >&2; exit 1; }
[ -f "$DATA/kiosk.db" ] || { echo "deb-test: the purge removed the library's data" >&2; exit 1; }
echo "deb-test: purged; only the data folder $DATA is left, as it should be"
rm -rf "$DATA"
echo "deb-test: ok"
