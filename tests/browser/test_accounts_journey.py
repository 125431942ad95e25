"""Issue 2 as a new user lives it, in a real browser: sign up, log out, log in again."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "casey.newcomer@example.com"
PASSWORD = "amber-lantern-orbit-7351"


def test_sign_up_log_out_and_log_in_again_in_another_case(page, screenshot):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect your Zoho Desk, safely")
    screenshot(page, "landing")

    page.get_by_role("main").get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    screenshot(page, "signup")

    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/connections/$"))
    expect(page.get_by_role("heading", name="Connections", level=1)).to_be_visible()
    expect(page.get_by_text("Welcome! Your account is ready.")).to_be_visible()
    expect(page.get_by_role("banner").get_by_text(EMAIL)).to_be_visible()
    screenshot(page, "connections-new-user")
    assert list(User.objects.values_list("email", flat=True)) == [EMAIL]

    page.get_by_role("banner").get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("banner").get_by_role("link", name="Log in")).to_be_visible()
    page.goto("/connections/")  # logged out for real: the dashboard sends us to log in
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/connections/$"))

    page.goto("/")
    page.get_by_role("banner").get_by_role("link", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.get_by_label("Email address").fill(EMAIL.upper())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/connections/$"))
    expect(page.get_by_role("heading", name="Connections", level=1)).to_be_visible()
    expect(page.get_by_role("banner").get_by_text(EMAIL)).to_be_visible()


def test_sign_up_with_mismatched_passwords_shows_the_error_and_creates_nothing(page, screenshot):
    page.goto("/")
    page.get_by_role("main").get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))

    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD + "-typo")
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    expect(page.get_by_role("alert")).to_have_text("The two password fields didn’t match.")
    expect(page.get_by_label("Email address")).to_have_value(EMAIL)
    expect(page.get_by_role("banner").get_by_role("link", name="Log in")).to_be_visible()
    screenshot(page, "signup-mismatch")
    assert not User.objects.exists()
