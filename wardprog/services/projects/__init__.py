"""Improvement projects: every `improve` item's (and every standalone project's) record.

- :mod:`.records`: the project record, its PDSA cycles, coaching sessions and QI events
  (re-exported here: ``from wardprog.services.projects import get_project``);
- :mod:`.scores`: IHI score histories, numeric aims, measure series and the evidence a score
  of 3.0 or more needs;
- :mod:`.charts`: a project's measure chart (XmR with its PDSA cycles) and the packs that show
  them;
- :mod:`.followup`: the monthly scoring prompts and the stale-project flags.

Only the records are imported with the package: the charts and scores bring pandas.
"""

from wardprog.services.projects.records import (
    ProjectError,
    add_pdsa,
    apply_changes,
    check_strategic_aim,
    ensure_project_for_item,
    get_project,
    item_closed,
    item_reopened,
    log_coaching,
    pdsa_cycles,
    project_for_item,
    project_rows,
    projects_for_new_items,
    record_event,
    score_given_already,
    ward_id_for,
)

__all__ = [
    "ProjectError",
    "add_pdsa",
    "apply_changes",
    "check_strategic_aim",
    "ensure_project_for_item",
    "get_project",
    "item_closed",
    "item_reopened",
    "log_coaching",
    "pdsa_cycles",
    "project_for_item",
    "project_rows",
    "projects_for_new_items",
    "record_event",
    "score_given_already",
    "ward_id_for",
]
