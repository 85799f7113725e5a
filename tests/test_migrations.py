"""Alembic migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, col

from wardprog import migrate
from wardprog.db import make_engine


def test_upgrade_head_matches_models(fresh_settings):
    url = fresh_settings.database_url
    migrate.upgrade(url)
    migrate.upgrade(url)  # a second upgrade is a no-op
    engine = make_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diffs == [], (
        f"models and migrations differ; run alembic revision --autogenerate: {diffs}"
    )
    assert migrate.current(url) is not None


def test_improve_items_already_captured_get_their_project(fresh_settings):
    """Migration 0007 gives every existing `improve` item its project record."""
    from datetime import date

    from sqlalchemy import text
    from sqlmodel import Session, select

    from tests.utils.factories import make_site, make_ward, make_wave
    from wardprog.models import (
        ImprovementProject,
        ProjectStatus,
        TriageCategory,
        TriageStatus,
    )

    url = fresh_settings.database_url
    migrate.upgrade(url, "0002")
    engine = make_engine(url)
    with Session(engine) as session:
        ward = make_ward(session, make_site(session))
        wave = make_wave(session, quarter_start=date(2026, 1, 5))
        for n, (category, status) in enumerate(
            [(TriageCategory.improve, TriageStatus.open), (TriageCategory.improve,
             TriageStatus.closed), (TriageCategory.fix, TriageStatus.open)]
        ):  # fmt: skip
            # The 0002 schema's columns only: later migrations add columns the model has.
            session.execute(
                text(
                    "INSERT INTO triageitem (ward_id, wave_id, issue, issue_key, category, owner, "
                    "escalated_to, status, notes, outcome, closed_by, decided_by, source, "
                    "created_at) VALUES (:w, :v, :i, :k, :c, '', '', :s, '', '', '', '', '', :t)"
                ),
                {"w": ward.id, "v": wave.id, "i": f"Issue {n}", "k": f"k{n}",
                 "c": category.value, "s": status.value, "t": "2026-01-05 09:00:00+00:00"},
            )  # fmt: skip
        session.commit()
    engine.dispose()
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        projects = session.exec(
            select(ImprovementProject).order_by(col(ImprovementProject.id))
        ).all()
        assert [(p.title, p.status) for p in projects] == [
            ("Issue 0", ProjectStatus.active),
            ("Issue 1", ProjectStatus.completed),
        ]
    engine.dispose()


def test_existing_scores_join_their_projects_history(fresh_settings):
    """Migration 0008 files every existing IHI score under its item's project, evidence empty,
    and the project's other logs (PDSA cycles) stay where they were."""
    from datetime import date

    from sqlalchemy import text
    from sqlmodel import Session, select

    from tests.utils.factories import make_site, make_ward, make_wave
    from wardprog.models import ImprovementProject, ImprovementScore, PdsaCycle

    url = fresh_settings.database_url
    migrate.upgrade(url, "0006")
    engine = make_engine(url)
    with Session(engine) as session:
        ward = make_ward(session, make_site(session))
        wave = make_wave(session, quarter_start=date(2026, 1, 5))
        session.execute(
            text(
                "INSERT INTO triageitem (ward_id, wave_id, issue, issue_key, category, owner, "
                "escalated_to, status, notes, outcome, closed_by, decided_by, source, "
                "created_at) VALUES (:w, :v, 'Falls at night', 'k', 'improve', '', '', 'open', "
                "'', '', '', '', '', '2026-01-05 09:00:00+00:00')"
            ),
            {"w": ward.id, "v": wave.id},
        )
        item_id = session.execute(text("SELECT id FROM triageitem")).scalar_one()
        session.execute(
            text(
                "INSERT INTO improvementproject (triage_item_id, ward_id, title, aim, metrics, "
                "team, sponsor, lead, lead_email, qi_coach, qi_coach_email, strategic_aim, "
                "ppi_level, ppi_note, sustainability_note, status, stop_reason, started_on, "
                "rebase_at_first_adoption, created_at) VALUES (:i, :w, 'Falls at night', '', "
                "'[]', '[]', '', '', '', '', '', '', 'none', '', '', 'active', '', '2026-01-05', "
                ":f, '2026-01-05 09:00:00+00:00')"
            ),
            {"i": item_id, "w": ward.id, "f": False},
        )
        project_id = session.execute(text("SELECT id FROM improvementproject")).scalar_one()
        session.execute(
            text(
                "INSERT INTO pdsacycle (project_id, number, started_on, plan, prediction, "
                "happened, learned, recorded_by, created_at) VALUES (:p, 1, '2026-02-01', "
                "'Night checks', '', '', '', '', '2026-02-01 09:00:00+00:00')"
            ),
            {"p": project_id},
        )
        for day, score in (("2026-01-05", 0.5), ("2026-03-01", 2.0)):
            session.execute(
                text(
                    "INSERT INTO improvementscore (triage_item_id, score, scored_by, scored_on, "
                    "justification, created_at) VALUES (:i, :s, 'QI lead', :d, 'why', "
                    "'2026-01-05 09:00:00+00:00')"
                ),
                {"i": item_id, "s": score, "d": day},
            )
        session.commit()
    engine.dispose()
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(select(ImprovementScore).order_by(col(ImprovementScore.id))).all()
        assert [(r.project_id, r.triage_item_id, r.score, r.evidence_note) for r in rows] == [
            (project_id, item_id, 0.5, ""),
            (project_id, item_id, 2.0, ""),
        ]
        project = session.get(ImprovementProject, project_id)
        assert project is not None and (project.aim_measure, project.aim_target) == ("", None)
        assert len(session.exec(select(PdsaCycle)).all()) == 1
    engine.dispose()
