"""Settings: one object, read from WARDPROG_* environment variables (and `.env`), read once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The trust's wall clock: every date and time a person sees (invites, packs, digests, the
# schedules' cron times) is England's local time. Defined here once; ``Settings.timezone``
# defaults to it.
TIMEZONE = "Europe/London"
LONDON = ZoneInfo(TIMEZONE)
# The apprise tag (and outbox routing tag) of every message for the improvement team.
IMPROVEMENT_TEAM_TAG = "improvement-team"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDPROG_", env_file=".env", extra="ignore")

    # Embedded default: a SQLite file under ./var so `make demo` needs no server.
    # Production: postgresql+psycopg://user@host:5432/wardprog
    database_url: str = "sqlite:///var/wardprog.db"
    var_dir: Path = Path("var")
    # Reports (diagnostic packs, dashboard) and the demo outbox land here.
    output_dir: Path = Path("var/out")
    # Folder of diagnostic extracts (CSV/Parquet/Excel) the diagnostic pull reads.
    extracts_dir: Path = Path("var/extracts")
    # Per-ward inbox folders where filled triage/nomination templates are dropped.
    inbox_dir: Path = Path("var/inbox")
    # apprise YAML config with tags; when absent, everything goes to the local outbox.
    notify_config: Path | None = None
    notify_max_attempts: int = 5
    timezone: str = TIMEZONE

    wards_per_site_per_wave: int = 5
    wave_length_months: int = 3
    # `wardprog plan` warns when the rollout would run longer than this (a register far larger
    # than the team can reach, or a wards-per-wave setting far too small).
    rollout_horizon_years: int = Field(default=3, ge=1)

    engagement_session_minutes: int = 90
    engagement_window_start_days: int = 14
    engagement_window_end_days: int = 42

    triage_fix_due_days: int = 30
    triage_change_review_days: int = 60
    # The ladder for overdue change requests: matron, then the directorate lead once the review
    # is this many days overdue, then the trust executive.
    escalation_directorate_days: int = Field(default=14, ge=1)
    escalation_executive_days: int = Field(default=42, ge=2)

    # A triage template or nomination form not back this many days after the event is held:
    # the ward manager is reminded, then the ward's matron (each once).
    chase_manager_days: int = Field(default=7, ge=1)
    chase_matron_days: int = Field(default=14, ge=1)

    # Trust-wide themes: a theme raised by this many wards goes up once as one change request.
    theme_escalate_wards: int = Field(default=10, ge=2)

    qsir_nominees_per_ward: int = 2
    qsir_cohort_capacity: int = 24
    qsir_target_trained: int = 100

    # Improvement projects: the trust's strategic aims a project links to (seed 004), and the
    # QI strategy's scorecard targets (`wardprog kpis`).
    strategic_aims: list[str] = [
        "Safe, high-quality care",
        "Patient experience",
        "Our people",
        "Efficient and sustainable services",
    ]
    kpi_target_modest_improvement_pct: float = 75
    kpi_target_ppi_pct: float = 20
    kpi_target_projects_coached: int = 40
    kpi_target_qi_cafe_months: int = 12
    kpi_target_sustainability_pct: float = 25
    # A project with no IHI score and no PDSA cycle for this long is stale.
    project_stale_days: int = Field(default=90, ge=1)

    staff_survey_min_respondents: int = Field(default=11, ge=1)
    # Actual hours beyond this multiple of planned hours cannot be true (fill rates of 120-150%
    # happen with enhanced observation; 3x the plan is a typing or unit error).
    extract_max_actual_to_planned: float = Field(default=3.0, gt=1)

    # The ward page (`wardprog web`): the public base URL used in links (behind the trust's
    # reverse proxy), the key that signs them (required outside the demo), how long a link lasts.
    web_url: str = "http://127.0.0.1:8080"
    web_secret: SecretStr | None = None
    web_link_days: int = Field(default=60, ge=1, le=366)
    web_upload_max_bytes: int = Field(default=2_000_000, ge=1_000)

    @property
    def outbox_dir(self) -> Path:
        return self.output_dir / "outbox"


class _SettingsSource:
    """``get_settings()``: the environment's settings, read once, unless overridden.

    The sealed demo runs with settings of its own (``use_settings``): flows and services read
    ``get_settings()``, so one override reaches every task thread without touching os.environ.
    Tests call ``get_settings.cache_clear()`` after changing WARDPROG_* variables.
    """

    def __init__(self) -> None:
        self._cached: Settings | None = None
        self._override: Settings | None = None

    def __call__(self) -> Settings:
        if self._override is not None:
            return self._override
        if self._cached is None:
            self._cached = Settings()
        return self._cached

    def cache_clear(self) -> None:
        self._cached = None


get_settings = _SettingsSource()


@contextmanager
def use_settings(settings: Settings) -> Iterator[Settings]:
    """Run with ``settings`` instead of the environment's (nests; restores on exit)."""
    previous, get_settings._override = get_settings._override, settings
    try:
        yield settings
    finally:
        get_settings._override = previous
