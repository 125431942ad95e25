"""The import file's validation (portal/migration/csv_rows.py): typed rows, or a report of
every problem by the file's own line number, with nothing secret in it."""

import csv
import io
import random

import pytest

from portal.migration.csv_rows import HEADER, ImportRow, validate

HEAD = ",".join(HEADER)
AUTHTOKEN = "0123456789abcdef0123456789abcdef"
REFRESH = "1000.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def csv_of(*lines: str, head: str = HEAD, end: str = "\n") -> bytes:
    return end.join([head, *lines]).encode() + end.encode()


def codes(data: bytes) -> list[tuple[int, str, str]]:
    """``(line, column, code)`` of every problem (and no rows at all when there is one)."""
    result = validate(data)
    if result.problems:
        assert result.rows == ()
    return [(p.line, p.column, p.code) for p in result.problems]


def test_a_valid_file_gives_typed_rows_with_their_lines():
    data = csv_of(
        f"c-1,Ada@Example.COM,Ada Lovelace,US,60000001,{AUTHTOKEN},",
        "",
        f"c-2,emilie@example.eu,Émilie du Châtelet,eu,,,{REFRESH}",
        "c-3,bob@example.com,Bob,,,,",
    )
    result = validate(data)
    assert result.ok and result.problems == ()
    first, second, third = result.rows
    assert first == ImportRow(
        line=2,
        external_id="c-1",
        email="ada@example.com",
        name="Ada Lovelace",
        data_centre="us",
        desk_org_id="60000001",
        authtoken=AUTHTOKEN,
        refresh_token="",
    )
    assert (second.line, second.data_centre, second.refresh_token) == (4, "eu", REFRESH)
    assert second.name == "Émilie du Châtelet"
    assert (third.line, third.data_centre, third.authtoken) == (5, "", "")


def test_a_row_hides_its_secrets_from_repr():
    (row,) = validate(csv_of(f"c-1,a@example.com,A,us,1,{AUTHTOKEN},")).rows
    assert AUTHTOKEN not in repr(row) and "c-1" in repr(row)


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf" + csv_of("c-1,a@example.com,A,,,,"),  # Excel's UTF-8 BOM
        csv_of("c-1,a@example.com,A,,,,", end="\r\n"),  # Windows line ends
        csv_of("c-1,a@example.com,A,,,,")[:-1],  # no final newline
        csv_of(
            "c-1,a@example.com,A,,,,",
            head=" External_ID , EMAIL,name,data_centre,desk_org_id,authtoken,refresh_token",
        ),
        csv_of('"c-1","a@example.com","A, the first",,,,'),  # quoted cells
    ],
)
def test_ordinary_variations_are_accepted(data):
    result = validate(data)
    assert result.ok and len(result.rows) == 1


def test_a_header_alone_is_an_empty_import():
    assert validate(csv_of()).ok and validate(csv_of()).rows == ()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", [(0, "", "empty_file")]),
        (b"\n\n", [(0, "", "empty_file")]),
        (b"external_id,email,name\n", [(1, "", "header_wrong")]),
        (csv_of(head=HEAD + ",extra"), [(1, "", "header_wrong")]),
        (
            csv_of(head="email,external_id,name,data_centre,desk_org_id,authtoken,refresh_token"),
            [(1, "", "header_wrong")],
        ),
        (b"c-1,a@example.com,A,,,,\n", [(1, "", "header_wrong")]),  # no header at all
    ],
)
def test_a_wrong_or_missing_header_refuses_the_file(data, expected):
    assert codes(data) == expected


def test_line_numbers_are_the_files_own_across_blank_lines_and_quoted_newlines():
    data = csv_of(
        "c-1,a@example.com,A,,,,",
        "",
        '"c-2",b@example.com,"two',
        'lines",,,,',
        "c-3,not-an-email,C,,,,",
        "",
        "",
        "c-4,d@example.com,D,mars,,,",
    )
    assert codes(data) == [
        (4, "name", "control_character"),
        (6, "email", "email_malformed"),
        (9, "data_centre", "unknown_data_centre"),
    ]


@pytest.mark.parametrize(
    "dc", ["mars", "https://accounts.zoho.eu", "accounts.zoho.eu", "e u", "ae"]
)
def test_an_unknown_data_centre_is_refused(dc):
    assert codes(csv_of(f"c-1,a@example.com,A,{dc},,,")) == [
        (2, "data_centre", "unknown_data_centre")
    ]


def test_the_unknown_data_centre_message_lists_the_configured_ones():
    (problem,) = validate(csv_of("c-1,a@example.com,A,mars,,,")).problems
    assert "us" in problem.message and "cn" in problem.message and "mars" not in problem.message


@pytest.mark.parametrize(
    "email", ["a", "a@", "a.example.com", "a@b@example.com", "a b@example.com", "a@example..com"]
)
def test_a_malformed_email_is_refused(email):
    assert codes(csv_of(f"c-1,{email},A,,,,")) == [(2, "email", "email_malformed")]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (",a@example.com,A,,,,", [(2, "external_id", "required")]),
        ("  ,a@example.com,A,,,,", [(2, "external_id", "required")]),
        ("c-1,,A,,,,", [(2, "email", "required")]),
        ("c-1,a@example.com,,,,,", [(2, "name", "required")]),
        ("x" * 201 + ",a@example.com,A,,,,", [(2, "external_id", "too_long")]),
        ("c-1,a@example.com," + "n" * 201 + ",,,,", [(2, "name", "too_long")]),
        ("c-1,a@example.com,A,,,", [(2, "", "field_count")]),
        ("c-1,a@example.com,A,,,,,", [(2, "", "field_count")]),
    ],
)
def test_required_cells_lengths_and_cell_counts(cells, expected):
    assert codes(csv_of(cells)) == expected


def test_an_external_id_of_200_characters_is_fine():
    assert validate(csv_of("x" * 200 + ",a@example.com,A,,,,")).ok


def test_duplicates_point_at_the_first_line():
    data = csv_of(
        "c-1,a@example.com,A,,,,",
        "c-2,b@example.com,B,,,,",
        "c-1,c@example.com,C,,,,",
        "c-4,B@EXAMPLE.com,D,,,,",
    )
    result = validate(data)
    assert [(p.line, p.column, p.code) for p in result.problems] == [
        (4, "external_id", "duplicate_external_id"),
        (5, "email", "duplicate_email"),
    ]
    assert "line 2" in result.problems[0].message and "line 3" in result.problems[1].message


def test_a_duplicate_of_an_invalid_row_is_still_reported():
    data = csv_of("c-1,a@example.com,A,mars,,,", "c-1,b@example.com,B,,,,")
    assert (3, "external_id", "duplicate_external_id") in codes(data)


def test_external_ids_are_compared_exactly():
    assert validate(csv_of("c-1,a@example.com,A,,,,", "C-1,b@example.com,B,,,,")).ok


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (f"c-1,a@example.com,A,us,,{AUTHTOKEN},", [(2, "desk_org_id", "authtoken_without_org_id")]),
        ("c-1,a@example.com,A,us,abc,,", [(2, "desk_org_id", "org_id_not_numeric")]),
        ("c-1,a@example.com,A,us,6000 0001,,", [(2, "desk_org_id", "org_id_not_numeric")]),
        ("c-1,a@example.com,A,us,1e5,,", [(2, "desk_org_id", "org_id_not_numeric")]),
        ("c-1,a@example.com,A,us,٦٠٠٠٠٠٠١,,", [(2, "desk_org_id", "org_id_not_numeric")]),
        ("c-1,a@example.com,A,us," + "1" * 21 + ",,", [(2, "desk_org_id", "org_id_not_numeric")]),
        (f"c-1,a@example.com,A,,1,{AUTHTOKEN},", [(2, "data_centre", "data_centre_missing")]),
        (f"c-1,a@example.com,A,,,,{REFRESH}", [(2, "data_centre", "data_centre_missing")]),
        (f"c-1,a@example.com,A,us,1,{AUTHTOKEN},{REFRESH}", [(2, "", "two_tokens")]),
        ("c-1,a@example.com,A,us,1,abc def,", [(2, "authtoken", "token_malformed")]),
        ("c-1,a@example.com,A,us,1,jetón,", [(2, "authtoken", "token_malformed")]),
        ("c-1,a@example.com,A,us,,," + "r" * 2049, [(2, "refresh_token", "too_long")]),
        ("c-1,a@example.com,A,us,1," + "a" * 201 + ",", [(2, "authtoken", "too_long")]),
    ],
)
def test_token_rows_need_their_data_centre_and_org(cells, expected):
    assert codes(csv_of(cells)) == expected


def test_an_org_id_without_a_token_is_kept():
    (row,) = validate(csv_of("c-1,a@example.com,A,eu,70000001,,")).rows
    assert row.desk_org_id == "70000001" and row.authtoken == ""


@pytest.mark.parametrize("column", ["external_id", "email", "name", "data_centre", "desk_org_id"])
@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", " =", "  @"])
def test_a_formula_looking_cell_is_refused_in_every_shown_column(column, start):
    cells = {"external_id": "c-1", "email": "a@example.com", "name": "A"}
    cells[column] = f'{start}HYPERLINK("http://evil.example","x")'
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([cells.get(name, "") for name in HEADER])
    assert (2, column, "formula") in codes(csv_of(out.getvalue()))


def test_a_negative_looking_org_id_is_a_formula_too():
    assert (2, "desk_org_id", "formula") in codes(csv_of("c-1,a@example.com,A,us,-1,,"))


@pytest.mark.parametrize("text", ["A\x1b[31mred", "A\u202egnp.exe", "A\x07", "A\u2066x"])
def test_control_and_bidi_characters_are_refused(text):
    assert codes(csv_of(f'c-1,a@example.com,"{text}",,,,')) == [(2, "name", "control_character")]


def test_a_name_with_a_hyphen_or_at_sign_inside_is_fine():
    assert validate(csv_of("c-1,a@example.com,Jean-Luc @ Support,,,,")).ok


def test_too_many_rows_is_reported_where_the_limit_is_passed(settings):
    settings.MIGRATION_IMPORT_MAX_ROWS = 3
    rows = [f"c-{n},u{n}@example.com,U{n},,,," for n in range(10)]
    assert codes(csv_of(*rows)) == [(5, "", "too_many_rows")]
    assert validate(csv_of(*rows[:3])).ok


def test_a_file_over_the_byte_limit_is_refused_unread(settings):
    data = csv_of(*[f"c-{n},u{n}@example.com,U{n},,,," for n in range(100)])
    settings.MIGRATION_IMPORT_MAX_BYTES = len(data) - 1
    assert codes(data) == [(0, "", "file_too_large")]
    settings.MIGRATION_IMPORT_MAX_BYTES = len(data)
    assert validate(data).ok


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            csv_of("c-1,a@example.com,A,,,,", "c-2,b@example.com,Ren\xe9e,,,,").replace(
                "Renée".encode(), b"Ren\xe9e"
            ),
            [(3, "", "bad_encoding")],
        ),
        (
            "\ufeff".encode("utf-16-le")
            + csv_of("c-1,a@example.com,A,,,,").decode().encode("utf-16-le"),
            [(1, "", "bad_encoding")],
        ),
        (b"\xfe\xff" + csv_of().decode().encode("utf-16-be"), [(1, "", "bad_encoding")]),
        (csv_of("c-1,a@example.com,A,,,,", "c-2,b@example.com,B\x00,,,,"), [(3, "", "nul_byte")]),
    ],
)
def test_bad_encodings_and_nul_bytes_are_refused_with_their_line(data, expected):
    assert codes(data) == expected


def test_a_latin1_file_is_refused_not_guessed():
    data = csv_of("c-1,a@example.com,Renée,,,,").decode().encode("latin-1")
    assert codes(data) == [(2, "", "bad_encoding")]


@pytest.mark.parametrize(
    "line",
    [
        'c-1,a@example.com,"A,,,,',
        'c-1,a@example.com,"A"x,,,,',
        "c-1,a@example.com," + "x" * 140000 + ",,,,",
    ],
)
def test_broken_csv_is_refused_at_its_line(line):
    data = csv_of("c-0,z@example.com,Z,,,,", line, "c-2,b@example.com,B,,,,")
    assert codes(data) == [(3, "", "malformed_csv")]


def test_the_report_never_holds_a_cells_value_or_a_secret():
    secret_token = "deadbeef" * 4
    secret_refresh = "1000.secretsecretsecretsecretsecretse.cccccccccccccccccccccccccccccccc"
    data = csv_of(
        f"=cmd|' /C calc'!A0,a@example.com,A,us,,{secret_token},",  # formula, no org id
        f"c-2,not-email,B,mars,1,{secret_token},{secret_refresh}",  # several at once
        f"c-3,c@example.com,C,,,,{secret_refresh} x",  # malformed refresh token, no DC
        f"c-4,c@example.com,C,us,1,{secret_token}é,",  # duplicate email, malformed authtoken
    )
    result = validate(data)
    assert len(result.problems) >= 8
    text = repr(result) + " ".join(p.message for p in result.problems)
    for value in (secret_token, secret_refresh, "cmd", "calc", "not-email", "mars"):
        assert value not in text
    assert all(p.line in (2, 3, 4, 5) for p in result.problems)
    assert [p.line for p in result.problems] == sorted(p.line for p in result.problems)


def test_random_bytes_never_raise():
    generator = random.Random(17)
    alphabet = [b",", b'"', b"\n", b"\r", b"=", b"a", b"\xc3", b"\xa9", b"\x00", b"@", b" "]
    for _ in range(300):
        body = b"".join(generator.choice(alphabet) for _ in range(generator.randint(0, 200)))
        result = validate(HEAD.encode() + b"\n" + body)
        assert result.ok or result.rows == ()
