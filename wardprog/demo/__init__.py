"""The demo trust: simulated ward staff and data for replaying the programme end to end."""
