"""The leader's monitor: event consumer, dispatcher, reconciler, lost-follower detector."""

from app.monitor.loop import Monitor

__all__ = ["Monitor"]
