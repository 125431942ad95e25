"""Watching the portal run: request ids, JSON log lines and the ``/metrics`` page."""
