"""The cast and tools shared by the suite."""

import pytest

from accounts.models import User

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def make_user(db):
    def make(email: str, **extra) -> User:
        return User.objects.create_user(email, PASSWORD, **extra)

    return make


@pytest.fixture
def alice(make_user) -> User:
    return make_user("alice@example.com", first_name="Alice")


@pytest.fixture
def bob(make_user) -> User:
    return make_user("bob@example.com", first_name="Bob")


@pytest.fixture
def staff(make_user) -> User:
    return make_user("staff@example.com", is_staff=True)
