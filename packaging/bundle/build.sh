#!/usr/bin/env bash
# `make bundle`: a one-folder PyInstaller build, dist/front-desk-kiosk/ with its program `front-desk-kiosk`, for
# machines without Debian packaging (and the base of a Windows build: docs/operations.md). Trims what a widgets
# program never loads and reports the size before and after.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
"$PY" -m pip install --quiet "pyinstaller>=6.10,<7" 2>&1 | grep -v "^WARNING: Location" || true
OUT="$ROOT/dist/front-desk-kiosk"
rm -rf "$OUT" "$ROOT/build/bundle"
# Never loaded by the kiosk (a widgets program): QML and Quick, web engines, multimedia, 3D, Designer, tests, Tk.
EXCLUDE=(PySide6.QtQml PySide6.QtQuick PySide6.QtQuickWidgets PySide6.QtQuickControls2 PySide6.QtWebEngineCore
         PySide6.QtWebEngineWidgets PySide6.QtWebChannel PySide6.QtMultimedia PySide6.QtPdf PySide6.Qt3DCore
         PySide6.QtDesigner PySide6.QtUiTools PySide6.QtTest PySide6.QtOpenGL PySide6.QtOpenGLWidgets
         tkinter pytest _pytest mypy hypothesis ruff importlinter IPython)
args=()
for module in "${EXCLUDE[@]}"; do args+=(--exclude-module "$module"); done
"$PY" -m PyInstaller --noconfirm --log-level WARN --onedir --name front-desk-kiosk \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/bundle" --specpath "$ROOT/build/bundle" \
    --add-data "$ROOT/resources:resources" \
    --add-data "$ROOT/kiosk/store/migrations:kiosk/store/migrations" \
    --collect-submodules kiosk --copy-metadata amqtt --copy-metadata front-desk-kiosk \
    "${args[@]}" packaging/bundle/kiosk_entry.py
before=$(du -sm "$OUT" | cut -f1)
QT="$OUT/_internal/PySide6/Qt"
rm -rf "$QT/translations" "$QT/qml" "$QT/plugins/qmltooling" "$QT/plugins/designer" "$QT/plugins/sqldrivers" \
       "$QT/plugins/multimedia" "$QT/plugins/webview" 2>/dev/null || true
after=$(du -sm "$OUT" | cut -f1)
echo "make bundle: $OUT: ${before} MB from PyInstaller (unused Qt modules left out), ${after} MB after dropping Qt's translations, QML and unused plugins"
