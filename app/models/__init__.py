"""Database models."""

from app.models.browse import MediaProbe, Selection  # noqa: F401  (UI-files)
from app.models.failure_report import FailureReport  # noqa: F401  (failed jobs' reports)
from app.models.follower import Follower
from app.models.job import ACTIVE, ACTIVE_VALUES, FINISHED, Attempt, Job, JobStatus, utcnow
from app.models.library import Library, LibraryFile, MediaFacts, Replacement  # noqa: F401  (libraries)
from app.models.preset import Preset  # noqa: F401  (UI-files)
from app.models.setting import Setting
from app.models.stats import JobStat, StatsDaily, StatsMonthly  # noqa: F401  (statistics)

__all__ = ["ACTIVE", "ACTIVE_VALUES", "FINISHED", "Attempt", "Follower", "Job", "JobStatus", "Setting", "utcnow"]
