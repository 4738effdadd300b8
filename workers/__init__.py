"""Celery app, queue routing and beat schedule for Forge's workers."""

from workers.celery import app

__all__ = ["app"]
