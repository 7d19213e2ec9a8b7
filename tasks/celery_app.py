"""The Celery application, configured from celeryconfig.py."""

from __future__ import annotations

from celery import Celery


def create_celery(set_as_current: bool = True) -> Celery:
    """Build a Celery app from celeryconfig: the followers' one below; the leader builds its own per Flask app."""
    celery = Celery("frameshift", set_as_current=set_as_current)
    celery.config_from_object("celeryconfig")
    return celery


celery_app = create_celery()
