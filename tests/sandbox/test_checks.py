"""The sandbox never runs in production by accident."""

from sandbox import checks, guard


def test_check_refuses_the_sandbox_with_debug_off_outside_tests(settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.setattr(guard, "running_tests", lambda: False)
    assert [m.id for m in checks.check_sandbox_needs_debug()] == ["sandbox.E001"]
    settings.DEBUG = True
    assert checks.check_sandbox_needs_debug() == []


def test_check_allows_the_test_suite(settings):
    settings.DEBUG = False
    assert guard.running_tests()
    assert checks.check_sandbox_needs_debug() == []


def test_views_answer_404_with_debug_off_outside_tests(client, db, settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.setattr(guard, "running_tests", lambda: False)
    assert client.get("/sandbox/").status_code == 404
    assert client.get("/sandbox/control/users").status_code == 404
    assert client.get("/sandbox/us/accounts/oauth/serverinfo").status_code == 404
