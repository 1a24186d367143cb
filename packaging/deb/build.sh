#!/usr/bin/env bash
# `make deb`: the Debian package, from a clean checkout, into dist/.
#   front-desk-kiosk_VERSION_ARCH.deb: /opt/front-desk-kiosk/venv (its own Python environment on the system's
#   python3.11: Debian has no PySide6), /usr/bin/kiosk, the services (hub, backups, screens), the udev rule.
# Needs: /usr/bin/python3.11 with venv, dpkg-deb; network access to PyPI (or a pip cache).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY=${PYTHON_FOR_PACKAGE:-/usr/bin/python3.11}
PREFIX=/opt/front-desk-kiosk
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
ARCH=$(dpkg --print-architecture)
STAGE="$ROOT/build/deb/front-desk-kiosk_${VERSION}_${ARCH}"
OUT="$ROOT/dist/front-desk-kiosk_${VERSION}_${ARCH}.deb"
command -v dpkg-deb >/dev/null || { echo "make deb: dpkg-deb is missing (Debian's dpkg)" >&2; exit 1; }
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null ||
    { echo "make deb: $PY must be Python 3.11 (the package's environment is built on it)" >&2; exit 1; }

echo "make deb: staging $STAGE"
rm -rf "$STAGE"
mkdir -p "$STAGE$PREFIX" "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/lib/systemd/system" "$STAGE/lib/udev/rules.d" \
         "$STAGE/usr/share/doc/front-desk-kiosk" "$STAGE/usr/share/applications"
# The environment is made where it will live, then moved into the stage: its scripts name their interpreter by
# absolute path, and a venv cannot be moved afterwards.
if [ -e "$PREFIX" ] && [ ! -f "$PREFIX/.made-by-make-deb" ]; then
    echo "make deb: $PREFIX exists and is not a build's: a package is installed here? (dpkg -r front-desk-kiosk)" >&2
    exit 1
fi
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
touch "$PREFIX/.made-by-make-deb"
trap 'rm -rf "$PREFIX"' EXIT
"$PY" -m venv --without-pip "$PREFIX/venv"
WHEELS="$ROOT/build/deb/wheels"
rm -rf "$WHEELS"
PIP=("$ROOT/.venv/bin/python" -m pip)
"${PIP[@]}" wheel --quiet --no-deps --wheel-dir "$WHEELS" "$ROOT"
"${PIP[@]}" --python "$PREFIX/venv/bin/python" install --quiet --no-compile --no-warn-script-location \
    "$WHEELS"/front_desk_kiosk-*.whl
# What a widgets program never loads (QML, Quick, Designer, translations), from PySide6-Essentials.
SITE="$PREFIX/venv/lib/python3.11/site-packages"
before=$(du -sm "$SITE/PySide6" | cut -f1)
rm -rf "$SITE/PySide6/Qt/qml" "$SITE/PySide6/Qt/translations" "$SITE/PySide6/designer" "$SITE/PySide6/Designer"* \
       "$SITE/PySide6/Qt/lib/libQt6Quick"* "$SITE/PySide6/Qt/lib/libQt6Qml"* "$SITE/PySide6/Qt/lib/libQt6Designer"* \
       "$SITE/PySide6/QtQuick"* "$SITE/PySide6/QtQml"* "$SITE/PySide6/QtDesigner"* \
       "$SITE/PySide6/lupdate" "$SITE/PySide6/linguist" "$SITE/PySide6/assistant" "$SITE/PySide6/qmllint" \
       "$SITE/PySide6/qmlformat" "$SITE/PySide6/qmlls" "$SITE/PySide6/Qt/libexec" 2>/dev/null || true
after=$(du -sm "$SITE/PySide6" | cut -f1)
echo "make deb: PySide6 ${before} MB -> ${after} MB after dropping QML, Quick, Designer and translations"
"$PREFIX/venv/bin/python" -c "import kiosk.app, PySide6.QtWidgets, sqlalchemy, amqtt, aiohttp" ||
    { echo "make deb: the environment does not import" >&2; exit 1; }
rm -f "$PREFIX/.made-by-make-deb"
find "$PREFIX" -name __pycache__ -type d -prune -exec rm -rf {} +
cp -a "$PREFIX/." "$STAGE$PREFIX/"
trap - EXIT
rm -rf "$PREFIX"

ln -s "$PREFIX/venv/bin/kiosk" "$STAGE/usr/bin/kiosk"
for unit in kiosk-hub.service kiosk-backup.service kiosk-backup.timer kiosk-display@.service kiosk-desk@.service; do
    sed "s|/opt/front-desk-kiosk/.venv/bin/kiosk|/usr/bin/kiosk|g" "packaging/$unit" > "$STAGE/lib/systemd/system/$unit"
done
cp packaging/99-front-desk-kiosk.rules "$STAGE/lib/udev/rules.d/"
# The menu entry: the desk window of the person signed in, attached to kiosk-hub through its share file (members of
# kiosk-desk), never a hub of its own in their data folder.
sed "s|/opt/front-desk-kiosk/.venv/bin/kiosk|/usr/bin/kiosk|g" packaging/front-desk-kiosk.desktop \
    > "$STAGE/usr/share/applications/front-desk-kiosk.desktop"
cp README.md docs/operations.md "$STAGE/usr/share/doc/front-desk-kiosk/"
printf 'Front Desk Kiosk %s; the bundled Python packages keep their own licences (%s/venv/lib/python3.11/site-packages/*.dist-info).\n' \
    "$VERSION" "$PREFIX" > "$STAGE/usr/share/doc/front-desk-kiosk/copyright"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" packaging/deb/control.in > "$STAGE/DEBIAN/control"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$STAGE/DEBIAN/"
mkdir -p "$ROOT/dist"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$STAGE" "$OUT" >/dev/null
echo "make deb: $OUT ($(du -h "$OUT" | cut -f1), installed $((SIZE / 1024)) MB)"
