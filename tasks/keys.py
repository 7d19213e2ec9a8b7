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


def follower(hostname: str) -> str:
    """What a follower advertises: concurrency, FFmpeg version, encoders."""
    return f"{PREFIX}:follower:{hostname}"


def stopping(hostname: str) -> str:
    """Set by a follower's main process on SIGTERM: its running attempts stop and report interrupted."""
    return f"{PREFIX}:stopping:{hostname}"


LEADER_CLAIM = "leader:given-up"
FOLLOWERS = f"{PREFIX}:followers"
LIVE_CHANNEL = f"{PREFIX}:live"
WAKE_CHANNEL = f"{PREFIX}:wake"
