"""The grant lifecycle: connect, tokens, revocation, checkup, status, warnings, owner alerts."""
