"""Staff pages under /staff/: each view is gated by one explicit permission (see access.py)."""
