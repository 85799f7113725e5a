"""Notifications: the outbox (exactly-once), jinja2 rendering and apprise dispatch."""
