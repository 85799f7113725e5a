"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from wardprog.models.action import Action
from wardprog.models.deferral import WardDeferral
from wardprog.models.diagnostics import DiagnosticSnapshot
from wardprog.models.engagement import (
    EngagementEvent,
    EngagementEventChange,
    EventStatus,
    Facilitator,
    Venue,
    WardEngagementPreference,
)
from wardprog.models.installation import Installation, InstallationKind
from wardprog.models.notification import Notification, NotificationStatus
from wardprog.models.owners import EscalationOwner, OwnerChange, OwnerLevel
from wardprog.models.programme import (
    STAGE_ORDER,
    Programme,
    Stage,
    WardEnrolment,
    Wave,
    WaveStatus,
)
from wardprog.models.projects import (
    CoachingSession,
    ImprovementProject,
    PdsaCycle,
    PdsaDecision,
    PpiLevel,
    ProjectMeasurement,
    ProjectStatus,
    QiEvent,
    QiEventAttendance,
    QiEventKind,
)
from wardprog.models.qsir import (
    Course,
    NominationStatus,
    QsirAttendance,
    QsirCohort,
    QsirNomination,
    StaffMember,
)
from wardprog.models.triage import (
    ChangeDecision,
    ImprovementScore,
    Theme,
    ThemeStatus,
    TriageCategory,
    TriageItem,
    TriageStatus,
    TriageSubmission,
)
from wardprog.models.ward import Site, Ward
from wardprog.models.web import WebAccess

__all__ = [
    "STAGE_ORDER",
    "Action",
    "ChangeDecision",
    "CoachingSession",
    "Course",
    "DiagnosticSnapshot",
    "EngagementEvent",
    "EngagementEventChange",
    "EscalationOwner",
    "EventStatus",
    "Facilitator",
    "ImprovementProject",
    "ImprovementScore",
    "Installation",
    "InstallationKind",
    "NominationStatus",
    "Notification",
    "NotificationStatus",
    "OwnerChange",
    "OwnerLevel",
    "PdsaCycle",
    "PdsaDecision",
    "PpiLevel",
    "Programme",
    "ProjectMeasurement",
    "ProjectStatus",
    "QiEvent",
    "QiEventAttendance",
    "QiEventKind",
    "QsirAttendance",
    "QsirCohort",
    "QsirNomination",
    "Site",
    "StaffMember",
    "Stage",
    "Theme",
    "ThemeStatus",
    "TriageCategory",
    "TriageItem",
    "TriageStatus",
    "TriageSubmission",
    "Venue",
    "Ward",
    "WardDeferral",
    "WardEngagementPreference",
    "WardEnrolment",
    "Wave",
    "WaveStatus",
    "WebAccess",
]
