#!/usr/bin/env bash
# `make run`: the development web server and one Procrastinate worker beside it.
# Ctrl-C stops both (the worker finishes its current job first).
set -u
PY="$1"
ADDRESS="$2"

"$PY" manage.py procrastinate worker &
WORKER=$!

stop_worker() {
    kill -TERM "$WORKER" 2>/dev/null
    wait "$WORKER" 2>/dev/null
}
trap stop_worker EXIT
trap 'exit 130' INT TERM

"$PY" manage.py runserver "$ADDRESS"
