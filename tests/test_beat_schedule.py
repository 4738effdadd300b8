"""The whole beat schedule lives in workers/celery.py, and every periodic task it names
is one a worker knows (autodiscovery names every app with a tasks.py)."""

from __future__ import annotations

from pathlib import Path

from workers.celery import app

ROOT = Path(__file__).resolve().parent.parent


def test_one_schedule_names_every_periodic_task():
    schedule = app.conf.beat_schedule
    assert set(schedule) == {
        "jobs-reconcile",
        "fleet-reconcile",
        "fleet-telemetry-compact",
        "data-sweep",
        "carbon-refresh",
        "carbon-windows",
        "alerts-evaluate",
        "energy-refresh",
    }
    app.loader.import_default_modules()  # what a worker does at start
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks, (name, entry["task"])
        assert entry["options"]["queue"] and entry["options"]["expires"] == entry["schedule"]


def test_no_app_adds_to_the_schedule_or_discovers_its_own_tasks():
    for apps_py in (ROOT / "console").glob("*/apps.py"):
        text = apps_py.read_text()
        assert "beat_schedule" not in text and "import tasks" not in text, apps_py
        assert ", tasks" not in text, apps_py
    settings_text = (ROOT / "console" / "settings" / "base.py").read_text()
    assert "CELERY_BEAT_SCHEDULE =" not in settings_text
    discovered = (ROOT / "workers" / "celery.py").read_text()
    for tasks_py in (ROOT / "console").glob("*/tasks.py"):
        assert f'"console.{tasks_py.parent.name}"' in discovered, tasks_py
