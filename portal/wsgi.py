"""What gunicorn serves (``portal.wsgi:application``) and runserver loads (``WSGI_APPLICATION``):
the site's full middleware stack for pages, the lean ``API_MIDDLEWARE`` path for ``/api/``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
_site = get_wsgi_application()

from portal.api.handler import dispatching  # noqa: E402 (after Django is set up)

application = dispatching(_site)
