"""The chain trigger finds the newest event through the ``seq`` index, whatever the statistics say.

PL/pgSQL caches the plan of the trigger's ``ORDER BY seq DESC LIMIT 1`` per connection. Planned
while the table is small (a new deployment, or statistics from when it was), that plan is a
sequential scan and sort, and it stays cached for as long as the connection lives or the
statistics do not change: every insert then reads the whole table. One transaction that appends
many events (``seed_demo_data``'s COPY, a bulk insert) never sees new statistics, so it went
quadratic: 100,000 events took over 10 minutes instead of 7 seconds. With sequential scans off
inside the trigger function only, the index is the plan at every size.
"""

from django.db import migrations

FUNCTION = "accounts_auditevent_chain()"


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_audit_action_time")]

    operations = [
        migrations.RunSQL(
            f"ALTER FUNCTION {FUNCTION} SET enable_seqscan = off;",
            reverse_sql=f"ALTER FUNCTION {FUNCTION} RESET enable_seqscan;",
        ),
    ]
