"""The follower: Celery app, transcode task and the pure FFmpeg layer.

Never imports app/ and never opens the database. `celery -A tasks worker` finds celery_app here. Importing it
checks nothing and reads no argv: the worker checks its settings when it starts (tasks/observability.py),
Flower in flowerconfig.py.
"""

from tasks import library_probe as _library_probe  # noqa: F401  (registers library.probe)
from tasks import observability as _observability  # noqa: F401  (config check, Sentry)
from tasks import split_tasks as _split_tasks  # noqa: F401  (registers split.plan/piece/audio/join/cleanup)
from tasks import transcode as _transcode  # noqa: F401  (registers transcode.run)
from tasks import worker_signals as _signals  # noqa: F401
from tasks.celery_app import celery_app

__all__ = ["celery_app"]
