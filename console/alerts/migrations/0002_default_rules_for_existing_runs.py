"""Runs created before the alerts app get the default rules too."""

from django.db import migrations


def forwards(apps, schema_editor):
    from console.alerts.defaults import DEFAULT_RULES

    Run = apps.get_model("runs", "Run")
    AlertRule = apps.get_model("alerts", "AlertRule")
    have = set(AlertRule.objects.values_list("run_id", flat=True).distinct())
    rules = [
        AlertRule(run_id=run_id, **rule)
        for run_id in Run.objects.exclude(pk__in=have).values_list("pk", flat=True)
        for rule in DEFAULT_RULES
    ]
    AlertRule.objects.bulk_create(rules, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial"), ("runs", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
