"""Forge console: the Django project (web UI, REST API, admin)."""
