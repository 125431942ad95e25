"""When the sandbox may answer at all: in DEBUG, or while the test suite runs.

"While tests run" means pytest is imported in this process, or ``PYTEST_VERSION`` is in the
environment (pytest sets it, and processes started by a test inherit it). A production
process has neither, so a sandbox left enabled there answers 404 and fails ``manage.py check``.
"""

import os
import sys

from django.conf import settings


def running_tests() -> bool:
    """Whether this process is (or was started by) a pytest run."""
    return "pytest" in sys.modules or "PYTEST_VERSION" in os.environ


def sandbox_allowed() -> bool:
    """The sandbox serves requests only with DEBUG on or under tests."""
    return bool(settings.DEBUG) or running_tests()
