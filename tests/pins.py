"""The runtime pins of requirements.txt, for tests that hold them against fixed releases."""

from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.9.10"`` as ``(1, 9, 10)``: the numeric release, enough to compare against a fix."""
    return tuple(int(part) for part in version.split(".")[:3])


def pins() -> dict[str, str]:
    """``{"Django": "6.1.3", ...}``: each ``name==version`` line, extras dropped from the name."""
    pinned = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pinned[name.split("[")[0].strip()] = version.strip()
    return pinned
