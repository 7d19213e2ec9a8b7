"""The one rule for whether a follower is alive, shared by the monitor (which judges) and the web (which shows).

The setting is FOLLOWER_LOST_AFTER. The monitor judges from the last sign of life it heard; the web reads the
monitor's verdict from the follower row, written twice a second, so it judges as of MONITOR_LAG seconds ago:
a row whose monitor stopped writing turns lost after that grace instead of showing online forever.
"""

from __future__ import annotations

# How stale the monitor's row may be before the web stops trusting its verdict (it writes twice a second).
MONITOR_LAG = 5.0


def follower_alive(heard_at: float | None, now: float, lost_after: float, *, gone: bool = False) -> bool:
    """Return True when a follower was heard at most lost_after seconds before now and is not gone.

    gone: it crashed (its named Redis connection closed), stopped, or the monitor's verdict says it is not online.
    """
    return not gone and heard_at is not None and now - heard_at <= lost_after
