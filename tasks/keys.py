"""Redis key names shared by leader and follower (the only contract besides the payload)."""

PREFIX = "frameshift"


def cancel(task_id: str) -> str:
    """Set by the leader: stop this attempt (value: 'cancel' or the reason it was given up)."""
    return f"{PREFIX}:cancel:{task_id}"


def claim(task_id: str) -> str:
    """Set once (NX) by the follower that starts an attempt: an attempt never runs twice."""
    return f"{PREFIX}:claim:{task_id}"


def lease(task_id: str) -> str:
    """Renewed by the running attempt with every progress report."""
    return f"{PREFIX}:lease:{task_id}"


def follower(hostname: str) -> str:
    """What a follower advertises: concurrency, FFmpeg version, encoders."""
    return f"{PREFIX}:follower:{hostname}"


FOLLOWERS = f"{PREFIX}:followers"
LIVE_CHANNEL = f"{PREFIX}:live"
WAKE_CHANNEL = f"{PREFIX}:wake"
