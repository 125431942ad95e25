#!/usr/bin/env bash
# ensure_debian_package.sh PACKAGE COMMAND PURPOSE
# Make sure COMMAND (from Debian's PACKAGE) exists, for PURPOSE ("the browser tests", ...).
#
# Quick and silent when it is already there. Otherwise installs PACKAGE with apt-get, as root
# or through sudo. Where there is no apt-get (or no way to become root), it says so and exits
# 0: PURPOSE is then SKIPPED with that reason. An install that apt-get attempts and fails is
# an error, so a broken set-up is not mistaken for a skip.
set -euo pipefail

PACKAGE=$1
COMMAND=$2
PURPOSE=$3

if command -v "$COMMAND" >/dev/null 2>&1; then
    exit 0
fi

skip() {
    echo "ensure $PACKAGE: $1; $PURPOSE will be SKIPPED." >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 || skip "$COMMAND is missing and apt-get is not available"

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    skip "$COMMAND is missing, and installing it needs root (no sudo here)"
fi

echo "ensure $PACKAGE: installing Debian's $PACKAGE package for $PURPOSE..." >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq "$PACKAGE" >/dev/null

if ! command -v "$COMMAND" >/dev/null 2>&1; then
    echo "ensure $PACKAGE: apt-get installed $PACKAGE but $COMMAND is still missing." >&2
    exit 1
fi
echo "ensure $PACKAGE: installed." >&2
