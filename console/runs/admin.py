from django.contrib import admin

from console.runs.models import Checkpoint, Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "project", "preset", "job", "created_at")
    readonly_fields = ("spec", "deepspeed", "job", "corpus")


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "step", "tag", "created_at")
