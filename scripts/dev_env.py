"""Write a development .env on first `make run` (never overwrites an existing one).

Uses only the standard library so it runs before the virtual environment has anything.
"""

import base64
import os
import secrets
import sys
from pathlib import Path

ENV_PATH = Path(__file__).resolve().parent.parent / ".env"


def fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def main() -> int:
    if ENV_PATH.exists():
        return 0
    lines = [
        "# Development settings written by `make run`. Never use these in production.",
        "DEBUG=1",
        f"SECRET_KEY={secrets.token_urlsafe(50)}",
        "ALLOWED_HOSTS=127.0.0.1,localhost",
        "EMAIL_URL=consolemail://",
        "SANDBOX_ENABLED=1",
        "ZOHO_CLIENT_ID=1000.SANDBOXCLIENT000000000000000000",
        f"ZOHO_CLIENT_SECRET={secrets.token_hex(21)}",
        f"DEMO_ADMIN_PASSWORD={secrets.token_urlsafe(12)}",
        f"DEMO_USER_PASSWORD={secrets.token_urlsafe(12)}",
    ]
    ENV_PATH.write_text("\n".join(lines) + "\n")
    ENV_PATH.chmod(0o600)
    print(f"Wrote development settings to {ENV_PATH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
