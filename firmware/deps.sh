#!/usr/bin/env bash
# What building and testing the firmware on this machine needs, from Debian: the host compiler, doctest, libsodium
# (the OTA signature check), libmosquitto (the stall sensor's Linux board layer), and the AVR toolchain with the
# Arduino core (the energy board's sketch). Idempotent; needs root (or sudo) to install.
set -euo pipefail
packages=(g++ make pkg-config doctest-dev libsodium-dev libmosquitto-dev gcc-avr avr-libc binutils-avr arduino-core-avr)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || { echo "firmware/deps.sh: no apt-get; install: ${missing[*]}" >&2; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
