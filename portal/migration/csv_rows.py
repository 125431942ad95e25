"""Validation of a customer import file, before anything is written (issue 17, MG-02).

Header ``external_id,email,name,data_centre,desk_org_id,authtoken,refresh_token``; the last four
cells may be empty. :func:`validate` parses the raw bytes and returns the typed rows with a
report of every problem by the file's own line number. A file with any problem must not be
imported at all (nothing half-imported).

The report never holds a cell's value: only line, column and a fixed message, so neither a
secret (``authtoken``, ``refresh_token``) nor a formula-looking cell can travel through it.
"""

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from portal.zoho import data_centres

HEADER = (
    "external_id",
    "email",
    "name",
    "data_centre",
    "desk_org_id",
    "authtoken",
    "refresh_token",
)
SECRET_COLUMNS = ("authtoken", "refresh_token")
MAX_EXTERNAL_ID = 200
MAX_EMAIL = 254
MAX_NAME = 200
MAX_ORG_ID_DIGITS = 20
MAX_AUTHTOKEN = 200
MAX_REFRESH_TOKEN = 2048
# A spreadsheet runs a cell starting with one of these as a formula (OWASP CSV Injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 (and UTF-32 LE starts the same)
_EMAIL = EmailValidator()
# Bidirectional overrides and isolates: they make a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

MESSAGES = {
    "file_too_large": "The file is larger than {limit} bytes.",
    "empty_file": "The file is empty.",
    "bad_encoding": "The file is not UTF-8 text (save it as CSV UTF-8).",
    "nul_byte": "The line contains a NUL byte.",
    "malformed_csv": "The line is not valid CSV (an unclosed quote or an oversized cell).",
    "header_wrong": "The header must be exactly: " + ",".join(HEADER) + ".",
    "too_many_rows": "The file has more than {limit} rows; split it.",
    "field_count": "The row has {count} cells instead of " + str(len(HEADER)) + ".",
    "required": "This cell must not be empty.",
    "too_long": "This cell is longer than {limit} characters.",
    "control_character": "This cell contains a control character.",
    "formula": "This cell starts like a spreadsheet formula (= + - @ tab or CR).",
    "email_malformed": "This is not a valid email address.",
    "duplicate_external_id": "The same external id is on line {first}.",
    "duplicate_email": "The same email is on line {first}.",
    "unknown_data_centre": "Unknown data centre; use one of: {codes}.",
    "data_centre_missing": "A row with a token needs its data centre.",
    "org_id_not_numeric": "The Desk org id must be digits only (at most 20).",
    "authtoken_without_org_id": "A row with an authtoken needs its Desk org id.",
    "token_malformed": "This token contains characters no Zoho token has.",
    "two_tokens": "Give an authtoken or a refresh token, not both.",
}


@dataclass(frozen=True)
class ImportRow:
    """One valid customer row. Secrets are hidden from ``repr``; empty cells are ``""``."""

    line: int
    external_id: str
    email: str  # lower-cased
    name: str
    data_centre: str  # a configured data centre's code, or "" (no token on the row)
    desk_org_id: str
    authtoken: str = field(repr=False)
    refresh_token: str = field(repr=False)


@dataclass(frozen=True)
class Problem:
    """One problem: the file's own line (1 is the header, 0 the whole file), the column (or
    ``""`` for the whole line), a stable ``code`` and a plain message. Never a cell's value."""

    line: int
    column: str
    code: str
    message: str


@dataclass(frozen=True)
class Validation:
    rows: tuple[ImportRow, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def max_bytes() -> int:
    """Bytes one import file may hold (read at most one more, then call :func:`validate`)."""
    return int(settings.MIGRATION_IMPORT_MAX_BYTES)


def problem(line: int, column: str, code: str, **values: object) -> Problem:
    return Problem(line, column, code, MESSAGES[code].format(**values))


def validate(data: bytes) -> Validation:
    """Parse and check a whole import file; rows only when there is no problem at all."""
    text, trouble = _decoded(data)
    if trouble is not None:
        return Validation((), (trouble,))
    rows: list[ImportRow] = []
    problems: list[Problem] = []
    firsts: dict[str, dict[str, int]] = {"external_id": {}, "email": {}}
    limit = int(settings.MIGRATION_IMPORT_MAX_ROWS)
    codes = tuple(data_centres())
    records = _records(text)
    header = next(records, None)
    if header is None:
        return Validation((), (problem(0, "", "empty_file"),))
    if isinstance(header[1], Problem) or _header_wrong(header[1]):
        trouble = header[1] if isinstance(header[1], Problem) else problem(1, "", "header_wrong")
        return Validation((), (trouble,))
    count = 0
    for line, cells in records:
        if isinstance(cells, Problem):
            problems.append(cells)
            break  # the reader cannot resynchronise after broken quoting
        count += 1
        if count > limit:
            problems.append(problem(line, "", "too_many_rows", limit=limit))
            break
        value, found = _cells(line, cells, codes)
        problems.extend(found)
        if value is not None:
            problems.extend(_duplicates(line, value, firsts))
            if not found:
                rows.append(ImportRow(line=line, **value))
    if problems:
        return Validation((), tuple(sorted(problems, key=lambda p: p.line)))
    return Validation(tuple(rows), ())


def _decoded(data: bytes) -> tuple[str, Problem | None]:
    if len(data) > max_bytes():
        return "", problem(0, "", "file_too_large", limit=max_bytes())
    if data.startswith(_OTHER_BOMS):
        return "", problem(1, "", "bad_encoding")
    data = data.removeprefix(_UTF8_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return "", problem(data.count(b"\n", 0, error.start) + 1, "", "bad_encoding")
    if "\x00" in text:
        return "", problem(text.count("\n", 0, text.index("\x00")) + 1, "", "nul_byte")
    return text, None


def _records(text: str) -> Iterator[tuple[int, list[str] | Problem]]:
    """``(first line, cells)`` for each non-blank record, or a ``Problem`` where CSV breaks."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield line, problem(line, "", "malformed_csv")
            return
        if cells and any(cell.strip() for cell in cells):
            yield line, cells
        line = reader.line_num + 1


def _header_wrong(cells: list[str]) -> bool:
    return tuple(cell.strip().lower() for cell in cells) != HEADER


def _cells(
    line: int, cells: list[str], codes: tuple[str, ...]
) -> tuple[dict[str, str] | None, list[Problem]]:
    """The row's cleaned values (None when it has the wrong number of cells) and problems."""
    if len(cells) != len(HEADER):
        return None, [problem(line, "", "field_count", count=len(cells))]
    raw = dict(zip(HEADER, cells, strict=True))
    found = [p for column, cell in raw.items() if (p := _cell_problem(line, column, cell))]
    value = {column: cell.strip() for column, cell in raw.items()}
    value["email"] = value["email"].lower()
    value["data_centre"] = value["data_centre"].lower()
    return value, found + _field_problems(line, value, codes)


def _duplicates(
    line: int, value: dict[str, str], firsts: dict[str, dict[str, int]]
) -> list[Problem]:
    """Problems for an external id or email an earlier line already has."""
    found: list[Problem] = []
    for column, code in (("external_id", "duplicate_external_id"), ("email", "duplicate_email")):
        if not value[column]:
            continue
        first = firsts[column].setdefault(value[column], line)
        if first != line:
            found.append(problem(line, column, code, first=first))
    return found


def _cell_problem(line: int, column: str, cell: str) -> Problem | None:
    """Formula-looking or control characters; secrets are checked by shape instead."""
    if column in SECRET_COLUMNS:
        return None
    if cell.startswith(FORMULA_STARTS) or cell.lstrip().startswith(FORMULA_STARTS):
        return problem(line, column, "formula")
    if any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in cell):
        return problem(line, column, "control_character")
    return None


def _field_problems(line: int, value: dict[str, str], codes: tuple[str, ...]) -> list[Problem]:
    found: list[Problem] = []
    for column, limit in (("external_id", MAX_EXTERNAL_ID), ("email", MAX_EMAIL)):
        if not value[column]:
            found.append(problem(line, column, "required"))
        elif len(value[column]) > limit:
            found.append(problem(line, column, "too_long", limit=limit))
    if not value["name"]:
        found.append(problem(line, "name", "required"))
    elif len(value["name"]) > MAX_NAME:
        found.append(problem(line, "name", "too_long", limit=MAX_NAME))
    if value["email"] and len(value["email"]) <= MAX_EMAIL and not _is_email(value["email"]):
        found.append(problem(line, "email", "email_malformed"))
    found += _token_problems(line, value, codes)
    return found


def _token_problems(line: int, value: dict[str, str], codes: tuple[str, ...]) -> list[Problem]:
    found: list[Problem] = []
    dc, org_id = value["data_centre"], value["desk_org_id"]
    authtoken, refresh_token = value["authtoken"], value["refresh_token"]
    if dc and dc not in codes:
        found.append(problem(line, "data_centre", "unknown_data_centre", codes=", ".join(codes)))
    if not dc and (authtoken or refresh_token):
        found.append(problem(line, "data_centre", "data_centre_missing"))
    if org_id and not (org_id.isascii() and org_id.isdigit() and len(org_id) <= MAX_ORG_ID_DIGITS):
        found.append(problem(line, "desk_org_id", "org_id_not_numeric"))
    if authtoken and not org_id:
        found.append(problem(line, "desk_org_id", "authtoken_without_org_id"))
    if authtoken and refresh_token:
        found.append(problem(line, "", "two_tokens"))
    for column, limit in (("authtoken", MAX_AUTHTOKEN), ("refresh_token", MAX_REFRESH_TOKEN)):
        token = value[column]
        if len(token) > limit:
            found.append(problem(line, column, "too_long", limit=limit))
        elif token and not _token_shaped(token):
            found.append(problem(line, column, "token_malformed"))
    return found


def _token_shaped(token: str) -> bool:
    """Printable ASCII without spaces, like every Zoho token (``1000.<hex>.<hex>``)."""
    return all("\x21" <= ch <= "\x7e" for ch in token)


def _is_email(value: str) -> bool:
    try:
        _EMAIL(value)
    except ValidationError:
        return False
    return True
