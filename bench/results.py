"""bench/RESULTS.md holds one section per benchmark; each benchmark rewrites only its own.

A section sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``. Sections keep
the order in which they first appeared; a new one is appended.
"""

import re
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\n"
    "Written by `make bench`; each section says which command produced it. Rerun the command\n"
    "rather than editing this file.\n"
)


def write_section(name: str, markdown: str, *, path: Path = RESULTS) -> None:
    """Put ``markdown`` into section ``name`` of ``path``, leaving the other sections alone."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else HEADER
    if begin not in text:
        text = text if text.startswith(HEADER) else HEADER
        path.write_text(f"{text.rstrip()}\n\n{block}\n")
        return
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    path.write_text(pattern.sub(lambda _: block, text, count=1))


def publish(name: str, markdown: str) -> None:
    """Write a benchmark's section of bench/RESULTS.md and show it on the terminal."""
    write_section(name, markdown)
    print(markdown)
    print(f"bench: written to {RESULTS.parent.name}/{RESULTS.name}", file=sys.stderr)
