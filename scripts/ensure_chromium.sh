#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the browser tests (tests/browser/).
#
# Quick and silent when it is already there. Otherwise installs the `chromium` package with
# apt-get, as root or through sudo. Where there is no apt-get (or no way to become root), it
# says so and exits 0: the browser tests then skip, each with the reason. An install that
# apt-get attempts and fails is an error, so a broken set-up is not mistaken for a skip.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

skip() {
    echo "ensure_chromium: $1; the browser tests (tests/browser/) will be SKIPPED." >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 || skip "$CHROMIUM is missing and apt-get is not available"

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    skip "$CHROMIUM is missing, and installing it needs root (no sudo here)"
fi

echo "ensure_chromium: installing Debian's chromium package for the browser tests..." >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq chromium >/dev/null

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_chromium: apt-get installed chromium but $CHROMIUM is still missing." >&2
    exit 1
fi
echo "ensure_chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed." >&2
