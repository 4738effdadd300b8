"""Training runs: a run is one ``train.run`` job on a node's agent, with the exact spec
and DeepSpeed configuration it launched with, and the checkpoints it completed."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Run(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="runs")
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="run"
    )
    corpus = models.ForeignKey(
        "data.TokenizedCorpus", on_delete=models.PROTECT, related_name="runs"
    )
    preset = models.CharField(max_length=40)
    params = models.BigIntegerField(default=0, help_text="The model's parameter count.")
    spec = models.JSONField(default=dict, help_text="The TrainSpec the agent runs, as a dict.")
    deepspeed = models.JSONField(default=dict, help_text="The DeepSpeed config it launched with.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Run {self.pk}: {self.name}"

    @property
    def state(self) -> str:
        """The job's state (a run has no state of its own)."""
        return self.job.state if self.job_id and self.job else "queued"


class Checkpoint(models.Model):
    """A complete checkpoint the run announced (a partial one never gets here)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="checkpoints")
    step = models.PositiveBigIntegerField()
    tag = models.CharField(max_length=200)
    dir = models.CharField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-step"]
        constraints = [models.UniqueConstraint(fields=["run", "step"], name="runs_ckpt_step")]

    def __str__(self) -> str:
        return f"{self.run} step {self.step}"
