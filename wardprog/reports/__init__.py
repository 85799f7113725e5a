"""Reports for people: diagnostic packs (and, from other modules, dashboards)."""
