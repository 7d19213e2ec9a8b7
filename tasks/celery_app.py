"""The Celery application, configured from celeryconfig.py."""

from __future__ import annotations

from celery import Celery


def create_celery() -> Celery:
    """Build the Celery app used by followers (and by the leader to send and watch)."""
    celery = Celery("frameshift")
    celery.config_from_object("celeryconfig")
    return celery


celery_app = create_celery()
