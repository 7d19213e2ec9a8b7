"""The follower: Celery app, transcode task and the pure FFmpeg layer.

Never imports app/ and never opens the database. `celery -A tasks worker` finds celery_app here.
"""

import os as _os
import sys as _sys

from tasks import observability as _observability  # noqa: F401  (config check, Sentry)
from tasks import split_tasks as _split_tasks  # noqa: F401  (registers split.plan/piece/audio/join/cleanup)
from tasks import transcode as _transcode  # noqa: F401  (registers transcode.run)
from tasks import worker_signals as _signals  # noqa: F401
from tasks.celery_app import celery_app
from tasks.preflight import refuse_bad_flower_settings

refuse_bad_flower_settings(_sys.argv, dict(_os.environ))  # only under `celery -A tasks flower`

__all__ = ["celery_app"]
