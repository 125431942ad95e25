"""Audit events keep the id of the request (or request-born job) that wrote them.

The column is chained: the digest adds ``request_id`` to the hashed fields when it is set and
leaves the text exactly as before when it is empty, so every event written before this
migration (all with "") still matches its stored hash and ``verify_audit`` keeps passing
without rewriting the append-only table. Adding a column with a constant default touches no
row, so neither the append-only nor the no-truncate trigger is in the way.
"""

from django.db import migrations, models

GENESIS = "0" * 64

FIELDS = """
        e.id,
        to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        e.actor_id, e.actor_repr, e.action,
        e.grant_id, e.grant_repr, e.owner_id, e.owner_repr,
        e.detail, host(e.ip_address), e.user_agent, e.outcome"""


def _digest(tail: str, comment: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION accounts_auditevent_digest(prev_hash text, e accounts_auditevent)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(prev_hash || (jsonb_build_array({FIELDS}
    ){tail})::text, 'UTF8')), 'hex')
$$;

COMMENT ON FUNCTION accounts_auditevent_digest(text, accounts_auditevent) IS
    'Audit chain digest: sha256 of the predecessor''s hash and the row''s fields '
    '(not seq/prev_hash/hash{comment}), timestamps in UTC, detail as canonical jsonb text. '
    'Genesis prev_hash: {GENESIS}';
"""


# An empty array appended changes neither the jsonb value nor its text.
WITH_REQUEST_ID = _digest(
    """ || CASE WHEN e.request_id = '' THEN '[]'::jsonb
           ELSE jsonb_build_array(e.request_id) END""",
    "; request_id last, only when set",
)
WITHOUT_REQUEST_ID = _digest("", "")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0018_audit_admin_user_changes")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="request_id",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.RunSQL(WITH_REQUEST_ID, reverse_sql=WITHOUT_REQUEST_ID),
    ]
