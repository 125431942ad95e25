"""Sandbox views, one module per noun: the consent page, tokens, identity, Desk, control."""
