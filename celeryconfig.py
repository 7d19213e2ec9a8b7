"""Every Celery setting, read from the environment. Imports nothing from the project.

Leader and followers must load the same file: the visibility timeout, serializer and queue
settings have to match on every process that shares the broker.
"""

import os

_redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

broker_url = _redis_url
result_backend = os.environ.get("CELERY_RESULT_BACKEND", _redis_url)
broker_connection_retry_on_startup = True

# JSON only: a follower never unpickles anything a broker hands it.
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
event_serializer = "json"

# Early ack plus no prefetch: a message is taken only by a worker with a free slot, and a
# long encode is never redelivered while it runs (see docs/architecture.md).
task_acks_late = False
worker_prefetch_multiplier = 1
worker_disable_prefetch = True

# Long visibility timeout, set in all three places (kombu reads each one separately).
_visibility = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "43200"))
_restore = os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL")
broker_transport_options = {"visibility_timeout": _visibility}
if _restore:
    broker_transport_options["unacked_restore_interval"] = float(_restore)
    broker_transport_options["unacked_restore_throttle"] = float(_restore)
result_backend_transport_options = {"visibility_timeout": _visibility}
visibility_timeout = _visibility

# Results are kept: the monitor reconciles from them after a restart.
result_extended = True
result_expires = int(os.environ.get("CELERY_RESULT_EXPIRES", str(7 * 24 * 3600)))
result_backend_always_retry = True
result_backend_max_retries = 20

# Events feed the leader's monitor and Flower.
worker_send_task_events = True
# No task-sent events: the only sender is the leader's dispatcher, which records the dispatch in the
# database itself; Flower learns of each task from the follower's task-received. Off, they save a
# publish per job and a decode in every event consumer, the monitor included (docs/benchmarks.md).
task_send_sent_event = False
task_track_started = True

# Each worker also consumes its own direct queue: the dispatcher addresses one follower.
worker_direct = True
task_default_queue = "frameshift"

worker_hijack_root_logger = False
worker_redirect_stdouts = False
