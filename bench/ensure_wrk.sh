#!/usr/bin/env bash
# Make sure wrk (the HTTP load generator, Debian package `wrk`) is on PATH for `make bench`.
#
# Quick and silent when it is already there. Otherwise installs it with apt-get, as root or
# through sudo. Where there is no apt-get (or no way to become root), it says so and exits 0:
# the benchmark then skips with that reason. An install that apt-get attempts and fails is an
# error, so a broken set-up is not mistaken for a skip.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
    exit 0
fi

skip() {
    echo "ensure_wrk: $1; the benchmark will be SKIPPED." >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 || skip "wrk is missing and apt-get is not available"

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    skip "wrk is missing, and installing it needs root (no sudo here)"
fi

echo "ensure_wrk: installing Debian's wrk package for the benchmark..." >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq wrk >/dev/null

if ! command -v wrk >/dev/null 2>&1; then
    echo "ensure_wrk: apt-get installed wrk but it is still not on PATH." >&2
    exit 1
fi
echo "ensure_wrk: $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2) installed." >&2
