"""The checklist's coverage is visible and cannot drift.

Every case in ``cases.py`` has a test named after its id (``test_OA_01_...``) somewhere in
``tests/security/test_*.py``, or a reason in ``DEFERRED``, never both; no test names an unknown
id; and ``README.md``'s table lists exactly those ids with exactly those tests and reasons.
"""

import ast
import re
from collections import defaultdict
from pathlib import Path

from tests.security.cases import CASES, DEFERRED

HERE = Path(__file__).parent
TEST_NAME = re.compile(r"^test_([A-Za-z]{2})_(\d{2})(?:_|$)")
README_ROW = re.compile(r"^\| ([A-Z]{2}-\d{2}) \| (.*?) \| (.*) \|$")


def cases_with_tests() -> dict[str, set[str]]:
    """``{"OA-01": {"test_oauth_flow.py::test_OA_01_...", ...}}`` from every security test file."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(HERE.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                match = TEST_NAME.match(node.name)
                if match:
                    case = f"{match.group(1).upper()}-{match.group(2)}"
                    found[case].add(f"{path.name}::{node.name}")
    return dict(found)


def readme_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in (HERE / "README.md").read_text().splitlines():
        match = README_ROW.match(line)
        if match:
            case, title, where = match.groups()
            assert case not in rows, f"{case} is listed twice in README.md"
            rows[case] = (title, where)
    return rows


def readme_cell(case: str, found: dict[str, set[str]]) -> str:
    """What README.md's last column says for ``case``."""
    if case in DEFERRED:
        return f"deferred: {DEFERRED[case]}"
    return "<br>".join(f"`{test}`" for test in sorted(found.get(case, ())))


def test_every_case_has_a_test_or_a_reason():
    found = cases_with_tests()
    missing = sorted(case for case in CASES if case not in found and case not in DEFERRED)
    assert missing == [], f"cases with neither a test nor a reason: {missing}"


def test_no_deferred_case_has_a_test():
    found = cases_with_tests()
    stale = sorted(case for case in DEFERRED if case in found)
    assert stale == [], f"deferred but tested (drop the deferral): {stale}"


def test_every_deferral_names_a_known_case_and_a_reason():
    assert set(DEFERRED) <= set(CASES)
    assert all(len(reason) > 20 for reason in DEFERRED.values())


def test_no_test_names_an_unknown_case():
    unknown = sorted(set(cases_with_tests()) - set(CASES))
    assert unknown == [], f"tests name ids the checklist does not have: {unknown}"


def test_the_readme_lists_every_case_with_its_tests_or_reason():
    found = cases_with_tests()
    expected = {case: (title, readme_cell(case, found)) for case, title in CASES.items()}
    rows = readme_rows()
    assert list(rows) == list(CASES), "README.md lists other ids, or in another order"
    for case, (title, cell) in expected.items():
        assert rows[case] == (title, cell), (
            f"README.md's row should read: | {case} | {title} | {cell} |"
        )
