"""The tree explains itself: rooms named for their purpose, imports that run one way.

docs/architecture.md draws the same rooms; ``ALLOWED`` below is the rule it describes.
"""

import ast

from tests import import_graph

# Room -> the rooms it may import. Everything else is refused, so a new dependency is a
# decision made here, in the open.
ALLOWED: dict[str, set[str]] = {
    "accounts": set(),
    "portal.zoho": set(),
    "portal.crypto": set(),
    "portal.models": set(),
    "portal.embedded_db": set(),
    "portal.health": set(),
    "portal.log_filters": set(),
    "portal.middleware": set(),
    "portal.wsgi": {"portal.api"},  # /api/ is served by the API's own handler
    "portal.asgi": set(),
    "portal.settings": {
        "portal.crypto",
        "portal.embedded_db",
        "accounts",  # the request-id task middleware Procrastinate's worker settings name
        "portal.observe",  # the log filters and formatters, shared with gunicorn's own lines
    },
    "portal.csp": {"portal.zoho"},
    "portal.checks": {"portal.crypto", "portal.zoho"},
    "portal.apps": {"portal.checks"},
    "portal.grants": {"accounts", "portal.zoho", "portal.crypto", "portal.models"},
    "portal.demo": {"accounts", "portal.zoho", "portal.crypto", "portal.models"},
    # customer imports and their conversions (issue 17)
    "portal.migration": {
        "accounts",
        "portal.grants",
        "portal.zoho",
        "portal.crypto",
        "portal.models",
    },
    "portal.api": {
        "accounts",
        "portal.grants",
        "portal.crypto",
        "portal.models",
        "portal.health",
        "portal.zoho",  # the Desk proxy forwards through portal/zoho/desk_proxy.py
    },
    "portal.upkeep": {"accounts", "portal.grants", "portal.models"},
    "portal.pages": {
        "accounts",
        "portal.grants",
        "portal.zoho",
        "portal.models",
        "portal.csp",
        "portal.health",
        "portal.migration",  # a campaign's unsubscribe page
    },
    "portal.staff": {
        "accounts",
        "portal.grants",
        "portal.zoho",
        "portal.models",
        "portal.api",  # service keys are the API's; staff pages list and revoke them
        "portal.upkeep",  # the upkeep report
        "portal.observe",  # the request figures /metrics reports, on the upkeep page
        "portal.migration",  # the customer import page
    },
    "portal.tasks": {
        "accounts",  # the mail jobs
        "portal.api",  # webhook deliveries
        "portal.grants",
        "portal.upkeep",
        "portal.staff",  # staff bulk revocations run as jobs
        "portal.migration",  # the migration's conversion jobs
    },
    # request ids, JSON logs, /metrics (fleet figures from the upkeep report)
    "portal.observe": {"accounts", "portal.models", "portal.upkeep"},
    "portal.admin": {"accounts", "portal.api", "portal.grants", "portal.models"},
    "portal.urls": {"accounts", "portal.pages", "portal.api", "portal.staff", "portal.observe"},
    "portal.management": {
        "accounts",
        "portal.api",
        "portal.demo",
        "portal.grants",
        "portal.models",
        "portal.migration",
        "portal.staff",
        "portal.upkeep",
    },
}
MAX_TOP_LEVEL_MODULES = 16  # files directly in portal/, __init__.py included
MAX_ROOM_DEPTH = 6


def test_every_room_imports_only_what_it_may():
    refused = {
        room: sorted(targets - ALLOWED.get(room, set()))
        for room, targets in import_graph.room_graph().items()
        if targets - ALLOWED.get(room, set())
    }
    assert refused == {}


def test_every_module_belongs_to_a_known_room():
    rooms = {import_graph.room(module) for module in import_graph.modules()}
    assert rooms - set(ALLOWED) <= {"portal"}


def test_no_module_imports_one_that_imports_it_back():
    assert import_graph.cycles(import_graph.module_graph()) == []


def test_rooms_stack_at_most_six_deep():
    graph = import_graph.room_graph()
    assert import_graph.cycles(graph) == []
    assert import_graph.depth(graph) <= MAX_ROOM_DEPTH
    assert import_graph.depth(ALLOWED) <= MAX_ROOM_DEPTH


def test_portal_keeps_only_site_plumbing_at_the_top():
    top = sorted(path.name for path in (import_graph.ROOT / "portal").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_nothing_imports_the_sandbox():
    """The portal reaches the sandbox over HTTP only; portal/urls.py mounts it by name."""
    importers = []
    for module, path in import_graph.modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(name == "sandbox" or name.startswith("sandbox.") for name in names):
                importers.append(module)
    assert importers == []
