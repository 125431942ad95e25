"""Write or complete the development .env for `make run`.

Variables already in .env are never changed; missing ones are appended (so a .env written by an
older version of the project gains new settings). Standard library only: it runs before the
virtual environment has anything.
"""

import base64
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

ENV_PATH = Path(__file__).resolve().parent.parent / ".env"


def fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


DEVELOPMENT_VALUES: dict[str, Callable[[], str]] = {
    "DEBUG": lambda: "1",
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": lambda: "127.0.0.1,localhost",
    "EMAIL_URL": lambda: "consolemail://",
    "TOKEN_ENCRYPTION_KEYS": fernet_key,
    "SANDBOX_ENABLED": lambda: "1",
    # The README's connect-session example returns to the portal itself.
    "CONNECT_RETURN_URL_ALLOWLIST": lambda: "http://127.0.0.1:8000/",
    "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": lambda: "1",
    "ZOHO_CLIENT_ID": lambda: "1000.SANDBOXCLIENT000000000000000000",
    "ZOHO_CLIENT_SECRET": lambda: secrets.token_hex(21),
    "DEMO_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(12),
    "DEMO_USER_PASSWORD": lambda: secrets.token_urlsafe(12),
}


def main() -> int:
    existing = ENV_PATH.read_text() if ENV_PATH.exists() else ""
    present = {line.split("=", 1)[0].strip() for line in existing.splitlines() if "=" in line}
    missing = [name for name in DEVELOPMENT_VALUES if name not in present]
    if not missing:
        return 0
    lines = [] if existing else ["# Development settings from `make run`. Never use in production."]
    lines += [f"{name}={DEVELOPMENT_VALUES[name]()}" for name in missing]
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with ENV_PATH.open("a") as env_file:
        env_file.write(prefix + "\n".join(lines) + "\n")
    ENV_PATH.chmod(0o600)
    print(f"Added {', '.join(missing)} to {ENV_PATH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
