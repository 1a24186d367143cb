#!/usr/bin/env bash
# System libraries Qt needs to start (offscreen in tests, xcb on a desktop) and fonts to render text.
# desktop-file-utils: the tests check the menu entry with desktop-file-validate; systemd-container: make boot-test.
# Idempotent; does nothing when everything is already present. Needs root (or sudo) to install.
set -euo pipefail
packages=(openssl mosquitto systemd systemd-container desktop-file-utils libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 fonts-dejavu-core
          libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
          libxcb-render-util0 libxcb-image0)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || { echo "system-deps: no apt-get; install: ${missing[*]}" >&2; exit 0; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
