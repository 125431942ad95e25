"""The audit table refuses TRUNCATE too, in the database itself, whoever asks.

Migration 0003's row triggers refuse UPDATE and DELETE, but TRUNCATE fires no row trigger:
it emptied the log, and ``verify_audit`` then found an intact, empty chain. A statement-level
``BEFORE TRUNCATE`` trigger (running 0003's function, which names the refused operation)
closes that. Like the other triggers it binds every role, the table's owner included; only a
superuser or the owner switching triggers off (``session_replication_role``, ``DISABLE
TRIGGER``) gets past it, which the hash chain and an anchor (``verify_audit --anchor``) show.
"""

from django.db import migrations

FORWARD = """
CREATE TRIGGER accounts_auditevent_no_truncate
    BEFORE TRUNCATE ON accounts_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_auditevent_append_only();
"""

BACKWARD = "DROP TRIGGER IF EXISTS accounts_auditevent_no_truncate ON accounts_auditevent;"


class Migration(migrations.Migration):
    dependencies = [("accounts", "0013_connect_merged_action")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
