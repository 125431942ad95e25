"""The chaos run's arithmetic (bench/chaos_load.py): what counts as a socket error, as an
answer after recovery, and as a duplicate refresh."""

from bench.chaos_load import Answer, duplicate_refreshes, summarize


def test_summary_tells_statuses_from_socket_errors_and_judges_after_recovery():
    answers = [
        Answer(1.0, "200", 0.010),
        Answer(5.0, "503", 0.002),
        Answer(6.0, "ConnectError", 0.001),
        Answer(9.9, "500", 0.020),
        Answer(10.0, "200", 0.030),
        Answer(12.0, "200", 0.004),
    ]
    summary = summarize(answers, recovered_at=10.0)
    assert summary.requests == 6
    assert summary.statuses == {"200": 3, "503": 1, "500": 1}
    assert summary.socket_errors == {"ConnectError": 1}
    assert summary.other_statuses == 1
    assert (summary.after_recovery, summary.after_recovery_ok) == (2, 2)
    assert summary.last_non_200_at == 9.9
    assert summary.max_ms == 30.0


def test_a_failure_after_recovery_is_counted():
    summary = summarize([Answer(11.0, "503", 0.001)], recovered_at=10.0)
    assert (summary.after_recovery, summary.after_recovery_ok) == (1, 0)


def test_duplicates_are_refreshes_beyond_the_first_per_grant():
    assert duplicate_refreshes([]) == (0, 0)
    assert duplicate_refreshes(["1", "2", "3"]) == (3, 0)
    assert duplicate_refreshes(["1", "2", "1", "1"]) == (2, 2)
