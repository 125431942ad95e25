"""The change feed's columns (``GET /api/v1/grants?updated_since=``), kept by PostgreSQL.

``change_xid`` is the 64-bit id of the transaction that last changed anything the API shows
of a grant, ``changed_at`` when. A trigger sets both on every insert and on every update
that changes a shown column, however the row is written (``save()``, a queryset
``update()``, raw SQL); a second trigger on the owner moves their grants when the email (or
an ``external_id``) the API shows changes. Neither column is a model field: Python never
writes them, so a stale instance's ``save()`` cannot move a row backwards.
``portal/api/feed.py`` explains why a transaction id, not a sequence or a timestamp.
"""

from django.conf import settings
from django.db import migrations

# The grant columns the API's grant payload shows (portal/api/listing.py ``_FIELDS``);
# tests/test_change_feed.py fails when the two lists part.
SHOWN_COLUMNS = (
    "status",
    "user_id",
    "data_centre",
    "zoho_user_id",
    "zoho_email",
    "organizations",
    "scope",
    "api_domain",
    "desk_base_url",
    "access_token_expires_at",
    "connected_at",
    "last_refreshed_at",
    "last_used_at",
    "revoked_at",
    "last_error",
)


def _row(prefix: str) -> str:
    return "(" + ", ".join(f"{prefix}.{column}" for column in SHOWN_COLUMNS) + ")"


GRANT_TRIGGER = f"""
CREATE FUNCTION portal_grant_change_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- NULL is how the owner trigger (below) asks for a move.
    IF TG_OP = 'INSERT' OR NEW.change_xid IS NULL
       OR {_row("NEW")} IS DISTINCT FROM {_row("OLD")} THEN
        NEW.change_xid := pg_current_xact_id()::text::bigint;
        NEW.changed_at := clock_timestamp();
    ELSE
        NEW.change_xid := OLD.change_xid;
        NEW.changed_at := OLD.changed_at;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER portal_grant_change_mark BEFORE INSERT OR UPDATE ON portal_zohogrant
    FOR EACH ROW EXECUTE FUNCTION portal_grant_change_mark();
"""

# to_jsonb: external_id is read only if the column exists (accounts adds it separately).
OWNER_TRIGGER = """
CREATE FUNCTION portal_owner_change_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.email IS DISTINCT FROM OLD.email
       OR to_jsonb(NEW) -> 'external_id' IS DISTINCT FROM to_jsonb(OLD) -> 'external_id' THEN
        UPDATE portal_zohogrant SET change_xid = NULL WHERE user_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER portal_owner_change_mark AFTER UPDATE ON accounts_user
    FOR EACH ROW EXECUTE FUNCTION portal_owner_change_mark();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0013_webhooks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE portal_zohogrant ADD COLUMN change_xid bigint, "
            "ADD COLUMN changed_at timestamptz; "
            "UPDATE portal_zohogrant SET change_xid = pg_current_xact_id()::text::bigint, "
            "changed_at = updated_at; "
            "ALTER TABLE portal_zohogrant ALTER COLUMN change_xid SET NOT NULL, "
            "ALTER COLUMN changed_at SET NOT NULL",
            "ALTER TABLE portal_zohogrant DROP COLUMN change_xid, DROP COLUMN changed_at",
        ),
        migrations.RunSQL(
            GRANT_TRIGGER,
            "DROP TRIGGER portal_grant_change_mark ON portal_zohogrant; "
            "DROP FUNCTION portal_grant_change_mark()",
        ),
        migrations.RunSQL(
            OWNER_TRIGGER,
            "DROP TRIGGER portal_owner_change_mark ON accounts_user; "
            "DROP FUNCTION portal_owner_change_mark()",
        ),
        # The feed's order (keyset pages) and its first page's time filter.
        migrations.RunSQL(
            "CREATE INDEX grant_change_feed ON portal_zohogrant (change_xid, id)",
            "DROP INDEX IF EXISTS grant_change_feed",
        ),
        migrations.RunSQL(
            "CREATE INDEX grant_changed_at ON portal_zohogrant (changed_at)",
            "DROP INDEX IF EXISTS grant_changed_at",
        ),
    ]
