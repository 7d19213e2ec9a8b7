"""Redis key names shared by leader and follower (the only contract besides the payload)."""

PREFIX = "frameshift"


def cancel(task_id: str) -> str:
    """Set by the leader: stop this attempt (value: 'cancel' or the reason it was given up)."""
    return f"{PREFIX}:cancel:{task_id}"


def claim(task_id: str) -> str:
    """Set once (NX) by whoever decides an attempt's fate first: the follower that starts it,
    or the leader that gives it up before it started. An attempt never runs twice."""
    return f"{PREFIX}:claim:{task_id}"


def lease(task_id: str) -> str:
    """Renewed by the running attempt with every progress report."""
    return f"{PREFIX}:lease:{task_id}"


def fence(task_id: str) -> str:
    """Who may end a running attempt: 'publishing:HOST' (the follower renames its output) or 'given-up'
    (the leader gave it up); each side sets it with a script that refuses when the other holds it."""
    return f"{PREFIX}:fence:{task_id}"


def presence(hostname: str) -> str:
    """The client name of the connection a follower's main process holds open while it lives: the kernel
    closes it the moment the process dies, whatever the load, so the leader sees a crash at once."""
    return f"{PREFIX}-follower:" + "".join(c if c.isprintable() and not c.isspace() else "_" for c in hostname)


PRESENCE_PREFIX = f"{PREFIX}-follower:"


def follower(hostname: str) -> str:
    """What a follower advertises: concurrency, FFmpeg version, encoders."""
    return f"{PREFIX}:follower:{hostname}"


def stopping(hostname: str) -> str:
    """Set by a follower's main process on SIGTERM: its running attempts stop and report interrupted."""
    return f"{PREFIX}:stopping:{hostname}"


LEADER_CLAIM = "leader:given-up"
FENCE_GIVEN_UP = "given-up"
FENCE_PUBLISHING = "publishing"
# The follower's side of the fence: atomic with the leader's (app/monitor/reaper.py), so exactly one wins.
# KEYS: cancel flag, fence. ARGV: 'publishing:HOST', TTL. Returns 1 when this attempt may rename.
PUBLISH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local held = redis.call('GET', KEYS[2])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[2]))
return 1
"""
# The leader's side. KEYS: cancel flag, fence. ARGV: reason, TTL. Returns 0 when the follower is
# already publishing (the result is on its way: do not give the attempt up), else 1 (given up).
GIVE_UP_SCRIPT = """
local held = redis.call('GET', KEYS[2])
if held and string.sub(held, 1, 10) == 'publishing' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
redis.call('SET', KEYS[2], 'given-up', 'EX', tonumber(ARGV[2]))
return 1
"""
FOLLOWERS = f"{PREFIX}:followers"
# The pool's progress reports (task-progress events) travel on an event exchange of their own, not Celery's
# `celeryev`: Flower binds every routing key of celeryev and consumed them all, ~2/3 of its events and 9.5 ms of its
# CPU a 30 s clip's job once opened (docs/benchmarks.md, fix 51). The monitor subscribes to both.
PROGRESS_EXCHANGE = f"{PREFIX}.progress"
LIVE_CHANNEL = f"{PREFIX}:live"
WAKE_CHANNEL = f"{PREFIX}:wake"
# What a wake-up says: new jobs only (the dispatch round is all they need), or any other change from a person (a
# cancel, a retry, a library, a follower, the queue's hours), after which the split jobs and libraries look too.
WAKE_NEW_JOBS = "new-jobs"
WAKE_CHANGE = "1"
