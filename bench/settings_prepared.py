"""A what-if for the bench only, never the portal's configuration: the portal's settings with
psycopg's prepared statements on (server-side binding, prepared after 5 executions), so the
hot query is planned once per connection instead of on every request."""

from portal.settings import *  # noqa: F403
from portal.settings import DATABASES

DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=5)
