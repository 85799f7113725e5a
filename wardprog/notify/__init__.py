"""Notifications: the outbox (exactly-once), jinja2 rendering and apprise dispatch.

Importing the package registers the ``outbox://`` apprise schema, so any apprise config or URL
used by wardprog can name it.
"""

import wardprog.notify.outbox_plugin  # noqa: F401  (registers outbox:// with apprise)
