"""Tamper evidence for the audit log: every event is numbered and hash-chained by the database.

A BEFORE INSERT trigger takes one transaction-level advisory lock, reads the newest event
and gives the new one ``seq`` = last + 1, ``prev_hash`` = the last one's ``hash`` and
``hash`` = SHA-256 of ``prev_hash`` and a canonical text of the row's own fields. Every
writer is chained without knowing it: ``record_event``, bulk inserts, COPY. ``created_at``
is raised to the predecessor's when it would go back, so time never decreases along ``seq``
(the staff page turns a date range into a ``seq`` range with that).

``python manage.py verify_audit`` recomputes the chain. Existing events are chained here in
(created_at, id) order, with the append-only trigger disabled for that one pass.
"""

import django.utils.timezone
from django.db import migrations, models

# One advisory lock key for "appending to the audit chain" (bigint key space; the upkeep's
# per-DC slots use the two-int4 space, which does not collide with it).
CHAIN_LOCK = 801_8001

GENESIS = "0" * 64

# STABLE, not IMMUTABLE: to_char and jsonb_build_array are STABLE, and a SQL function only
# gets inlined into the calling query when it claims no more than its body (inlined, the
# check of a million events takes a third of the time).
DIGEST_FUNCTION = f"""
CREATE FUNCTION accounts_auditevent_digest(prev_hash text, e accounts_auditevent)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(prev_hash || jsonb_build_array(
        e.id,
        to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        e.actor_id, e.actor_repr, e.action,
        e.grant_id, e.grant_repr, e.owner_id, e.owner_repr,
        e.detail, host(e.ip_address), e.user_agent, e.outcome
    )::text, 'UTF8')), 'hex')
$$;

COMMENT ON FUNCTION accounts_auditevent_digest(text, accounts_auditevent) IS
    'Audit chain digest: sha256 of the predecessor''s hash and the row''s fields '
    '(not seq/prev_hash/hash), timestamps in UTC, detail as canonical jsonb text. '
    'Genesis prev_hash: {GENESIS}';
"""

CHAIN_TRIGGER = f"""
CREATE FUNCTION accounts_auditevent_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
    last_at timestamptz;
BEGIN
    -- Held until commit: appenders queue here, so seq stays gapless and the chain unforked.
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    SELECT seq, hash, created_at INTO last_seq, last_hash, last_at
        FROM accounts_auditevent ORDER BY seq DESC LIMIT 1;
    IF FOUND THEN
        NEW.seq := last_seq + 1;
        NEW.prev_hash := last_hash;
        IF NEW.created_at < last_at THEN
            NEW.created_at := last_at;
        END IF;
    ELSE
        NEW.seq := 1;
        NEW.prev_hash := '{GENESIS}';
    END IF;
    NEW.hash := accounts_auditevent_digest(NEW.prev_hash, NEW);
    RETURN NEW;
END;
$$;

CREATE TRIGGER accounts_auditevent_chain
    BEFORE INSERT ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_chain();
"""

ADD_COLUMNS = """
ALTER TABLE accounts_auditevent
    ADD COLUMN seq bigint,
    ADD COLUMN prev_hash varchar(64),
    ADD COLUMN hash varchar(64);
"""

# Owners of past events: the grant's user when the grants table exists (a plain data fill;
# accounts code never reads portal's tables).
BACKFILL = f"""
ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only;
DO $$
BEGIN
    IF to_regclass('portal_zohogrant') IS NOT NULL THEN
        EXECUTE 'UPDATE accounts_auditevent e SET owner_id = g.user_id
                 FROM portal_zohogrant g WHERE g.id = e.grant_id';
    END IF;
END $$;
UPDATE accounts_auditevent e SET owner_repr = u.email
    FROM accounts_user u WHERE u.id = e.owner_id;
DO $$
DECLARE
    r record;
    n bigint := 0;
    h text := '{GENESIS}';
BEGIN
    FOR r IN SELECT id FROM accounts_auditevent ORDER BY created_at, id LOOP
        n := n + 1;
        UPDATE accounts_auditevent e
            SET seq = n, prev_hash = h, hash = accounts_auditevent_digest(h, e)
            WHERE e.id = r.id
            RETURNING e.hash INTO h;
    END LOOP;
END $$;
ALTER TABLE accounts_auditevent ENABLE TRIGGER accounts_auditevent_append_only;
ALTER TABLE accounts_auditevent
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN seq SET DEFAULT 0,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN prev_hash SET DEFAULT '',
    ALTER COLUMN hash SET NOT NULL,
    ALTER COLUMN hash SET DEFAULT '',
    ADD CONSTRAINT accounts_auditevent_seq_key UNIQUE (seq);
"""

DROP_CHAIN = """
DROP TRIGGER IF EXISTS accounts_auditevent_chain ON accounts_auditevent;
DROP FUNCTION IF EXISTS accounts_auditevent_chain();
DROP FUNCTION IF EXISTS accounts_auditevent_digest(text, accounts_auditevent);
ALTER TABLE accounts_auditevent DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN hash;
"""

# Word search over the reason. pg_trgm would allow substrings, but it is an extension the
# embedded PostgreSQL does not ship (pg_available_extensions is empty there) and managed
# servers may refuse; core full-text search needs nothing. The expression is exactly what
# accounts.models.REASON_WORDS compiles to, so the planner matches it. Not partial on
# purpose: PostgreSQL uses a full expression index's statistics to estimate how common a
# word is, and then walks seq for a common word (50 matches in a few hundred rows) and
# takes the bitmap for a rare one; with a partial index it guesses, and sorted all 50,000
# matches of a common word (300 ms at a million events).
REASON_INDEX = """
CREATE INDEX audit_reason_words ON accounts_auditevent
    USING gin (to_tsvector('simple'::regconfig, COALESCE((detail ->> 'reason'), '')));
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_staff_permissions_and_actions")]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "ordering": ("-seq",),
                "permissions": [("view_audit_log", "Can read and export the audit log")],
            },
        ),
        migrations.RemoveIndex(model_name="auditevent", name="audit_action_time"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_grant_time"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_actor_time"),
        migrations.AlterField(
            model_name="auditevent",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="owner_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="owner_repr",
            field=models.CharField(blank=True, db_default="", default="", max_length=254),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(ADD_COLUMNS + DIGEST_FUNCTION + BACKFILL + CHAIN_TRIGGER, DROP_CHAIN),
            ],
            state_operations=[
                migrations.AddField(
                    model_name="auditevent",
                    name="seq",
                    field=models.BigIntegerField(db_default=0, editable=False, unique=True),
                ),
                migrations.AddField(
                    model_name="auditevent",
                    name="prev_hash",
                    field=models.CharField(db_default="", editable=False, max_length=64),
                ),
                migrations.AddField(
                    model_name="auditevent",
                    name="hash",
                    field=models.CharField(db_default="", editable=False, max_length=64),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["created_at", "seq"], name="audit_time_seq"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["action", "seq"], name="audit_action_seq"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["grant_id", "seq"], name="audit_grant_seq"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor_id", "seq"], name="audit_actor_seq"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["owner_id", "seq"], name="audit_owner_seq"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("outcome", "failure")), fields=["seq"], name="audit_failure_seq"
            ),
        ),
        migrations.RunSQL(REASON_INDEX, "DROP INDEX IF EXISTS audit_reason_words;"),
    ]
