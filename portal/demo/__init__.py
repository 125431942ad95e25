"""Demo data for ``manage.py seed_demo_data``: users, grants and audit events in bulk."""
