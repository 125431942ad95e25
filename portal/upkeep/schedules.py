"""When the periodic upkeep tasks run: each task's name and the setting holding its cron line.

The tasks themselves are the shells in ``portal/tasks.py`` (where Procrastinate finds them);
they are named here by their task names only, so upkeep never imports the tasks module.
"""

from typing import Any

from django.conf import settings
from procrastinate import App

SCHEDULES = {
    "portal.check_due_grants": "UPKEEP_CHECK_SCHEDULE",
    "portal.finish_revocations": "UPKEEP_REVOKE_SCHEDULE",
    "portal.revoke_orphaned_tokens": "UPKEEP_REVOKE_SCHEDULE",
    "portal.purge_secrets": "UPKEEP_PURGE_SCHEDULE",
    "portal.purge_webhook_events": "UPKEEP_PURGE_SCHEDULE",
    "portal.purge_finished_jobs": "UPKEEP_PURGE_SCHEDULE",
    "portal.send_alerts": "UPKEEP_ALERT_SCHEDULE",
    "portal.retry_stalled_jobs": "UPKEEP_STALLED_JOBS_SCHEDULE",
    "portal.send_migration_reminders": "MIGRATION_REMINDER_SCHEDULE",
}


def schedule_periodic_tasks(procrastinate_app: App) -> None:
    """Register the periodic tasks with the cron lines from settings.

    Named by ``PROCRASTINATE_ON_APP_READY``, so settings are read when the app is ready
    (after Procrastinate has imported ``portal/tasks.py`` and registered its tasks).
    """
    for name, setting in SCHEDULES.items():
        cron: Any = getattr(settings, setting)
        if cron:
            task = procrastinate_app.tasks[name]
            procrastinate_app.periodic(cron=cron, periodic_id="schedule")(task)
