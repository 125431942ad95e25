"""The bare Django app the token API's hot path is measured against in ``make bench``.

Settings and URLconf in one module: one JSON view, no middleware, no installed apps, no
database. gunicorn serves it as ``django.core.wsgi:get_wsgi_application()`` with
``DJANGO_SETTINGS_MODULE=bench.bare_app``, with the portal's gunicorn settings, in the same run:
the floor a Django answer under gunicorn cannot go below on this machine.
"""

import os

from django.http import HttpRequest, JsonResponse
from django.urls import path

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-bare-app-not-a-secret-0123456789")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.bare_app"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True


def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("ping", ping)]
