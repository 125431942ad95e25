"""AC: who may see and change what, and an audit log nobody can rewrite (checklist, section C)."""

import pytest
from django.test import Client

from portal.models import ZohoGrant
from tests.cast import EU

pytestmark = pytest.mark.django_db(transaction=True)


def test_AC_02_another_users_grant_page_is_404(portal, bob, alice):
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    other = Client()
    other.force_login(bob)
    assert other.get(f"/connections/{grant.pk}/").status_code == 404
