"""Diagnostics: extracts, charts and signals, the diagnostic stage and its pack, re-checks.

The package re-exports every public name of its modules (and ``_pack_context``, which reports
and tests use). The rules it applies are imported from where they live: the baseline months
from ``wardprog.rules.metrics``, when a re-check is due and its verdicts from
``wardprog.rules.rechecks``.
"""

from wardprog.services.diagnostics.charts import (
    RECENT_MONTHS,
    charts_for,
    find_signals,
    metrics_json,
    staff_survey_json,
    ward_charts,
    wave_ward_charts,
)
from wardprog.services.diagnostics.extracts import (
    REFUSAL_LINES,
    DiagnosticError,
    ExtractsRefused,
    check_extract_wards,
    generate_register_extracts,
    load_checked,
    load_extracts,
    refuse_impossible,
)
from wardprog.services.diagnostics.rechecks import (
    RecheckResult,
    due_rechecks,
    engagement_date,
    fixed_limit_charts,
    latest_rechecks,
    prepare_rechecks,
    run_recheck,
)
from wardprog.services.diagnostics.stage import (
    BASELINE,
    PACK_VERSION,
    PackSummary,
    _pack_context,
    pack_path_for,
    pack_summary,
    pull_snapshot,
    run_diagnostic_stage,
    tell_team_refused,
)

__all__ = [
    "BASELINE",
    "PACK_VERSION",
    "RECENT_MONTHS",
    "REFUSAL_LINES",
    "DiagnosticError",
    "ExtractsRefused",
    "PackSummary",
    "RecheckResult",
    "_pack_context",
    "charts_for",
    "check_extract_wards",
    "due_rechecks",
    "engagement_date",
    "find_signals",
    "fixed_limit_charts",
    "generate_register_extracts",
    "latest_rechecks",
    "load_checked",
    "load_extracts",
    "metrics_json",
    "pack_path_for",
    "pack_summary",
    "prepare_rechecks",
    "pull_snapshot",
    "refuse_impossible",
    "run_diagnostic_stage",
    "run_recheck",
    "staff_survey_json",
    "tell_team_refused",
    "ward_charts",
    "wave_ward_charts",
]
