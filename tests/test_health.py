"""/healthz answers from the database's real state."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_healthz_ok_when_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_503_when_database_does_not_answer():
    """A process pointed at a database that is not there answers 503 quickly."""
    script = (
        "import django, json, time; django.setup();"
        "from django.test import Client; t = time.monotonic();"
        "r = Client().get('/healthz');"
        "print(json.dumps([r.status_code, r.json(), time.monotonic() - t]))"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status, body, seconds = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == 503
    assert body == {"status": "unavailable", "database": "unavailable"}
    assert seconds < 5
