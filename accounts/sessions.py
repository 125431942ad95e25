"""The session engine: Django's database sessions, with the signed-in user's id on each row.

Selected by ``SESSION_ENGINE = "accounts.sessions"``. Ending every session of one user
(deactivation) is then ``UserSession.objects.filter(user_id=...).delete()``.
"""

from typing import TYPE_CHECKING, Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

if TYPE_CHECKING:
    from accounts.models import UserSession

    # Generic over its model in django-stubs only; at run time the class takes no parameter.
    _DatabaseSessionStore = DatabaseSessionStore[UserSession]
else:
    _DatabaseSessionStore = DatabaseSessionStore


class SessionStore(_DatabaseSessionStore):
    @classmethod
    def get_model_class(cls) -> type["UserSession"]:
        from accounts.models import UserSession

        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> "UserSession":
        session = super().create_model_instance(data)
        try:
            session.user_id = int(data[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            session.user_id = None
        return session


def end_sessions_of(user_id: int) -> int:
    """Delete every session of ``user_id``; returns how many there were."""
    from accounts.models import UserSession

    deleted, _ = UserSession.objects.filter(user_id=user_id).delete()
    return deleted
