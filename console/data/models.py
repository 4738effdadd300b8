"""Datasets, their immutable versions, tokenizers and tokenized corpora.

Every artifact row is written once, by ``services.data_job_left_active``, in the same
transaction that marks its job succeeded: a version exists if and only if the job that
made it succeeded. The files live under FORGE_DATA_DIR at ``storage_key``; the rows keep
their sizes, sha256 and lineage. Nothing here is ever updated or deleted by the console.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DatasetKind(models.TextChoices):
    """What a dataset's versions hold: pretraining text, or records for fine-tuning
    (console.data.engine.chat): conversations, or preference pairs."""

    TEXT = "text", "text (pretraining)"
    CHAT = "chat", "chat (conversations for SFT)"
    PREFERENCE = "preference", "preference pairs (for DPO)"


class Dataset(models.Model):
    """A named body of text in a project; its content lives in its versions."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="datasets"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    text_field = models.CharField(
        max_length=100,
        default="text",
        help_text="The JSONL key or Parquet column that holds the text, unless an upload "
        "says otherwise.",
    )
    kind = models.CharField(max_length=20, choices=DatasetKind.choices, default=DatasetKind.TEXT)
    columns = models.JSONField(
        default=dict,
        blank=True,
        help_text='chat from a prompt/response file: {"prompt", "response", "system"?} '
        "column names; empty: the file has messages.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="uniq_dataset_name")
        ]

    def __str__(self) -> str:
        return self.name


class Origin(models.TextChoices):
    UPLOAD = "upload"
    SERVER = "server", "server path"
    SAMPLE = "sample", "sample corpus"
    CLEAN = "clean", "cleaning"


class DatasetVersion(models.Model):
    """One immutable state of a dataset: ``documents.jsonl`` + ``manifest.json`` (and,
    for a cleaned version, ``report.json``) under ``storage_key``."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    origin = models.CharField(max_length=20, choices=Origin.choices)
    source = models.JSONField(
        default=dict, blank=True, help_text="Where the text came from (file, path, format)."
    )
    pipeline = models.JSONField(
        default=list, blank=True, help_text="The cleaning steps, every parameter filled in."
    )
    job = models.OneToOneField(
        "jobs.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dataset_version",
    )
    storage_key = models.CharField(max_length=255, unique=True)
    sha256 = models.CharField(max_length=64, help_text="Of documents.jsonl.")
    bytes = models.BigIntegerField(help_text="Size of documents.jsonl.")
    text_bytes = models.BigIntegerField(default=0, help_text="UTF-8 bytes of the texts alone.")
    documents = models.BigIntegerField()
    language_mix = models.JSONField(default=dict, blank=True)
    report = models.JSONField(null=True, blank=True, help_text="The cleaning report.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="uniq_dataset_version")
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"

    @property
    def project_id(self) -> int:
        return self.dataset.project_id


class Tokenizer(models.Model):
    """A byte-level BPE tokenizer in Hugging Face format, trained on a version."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="tokenizers"
    )
    name = models.CharField(max_length=100)
    version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="tokenizers")
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="tokenizer"
    )
    algorithm = models.CharField(max_length=40, default="byte-level BPE")
    vocab_size_requested = models.PositiveIntegerField()
    vocab_size = models.PositiveIntegerField(help_text="The size training reached.")
    min_frequency = models.PositiveIntegerField(default=2)
    special_tokens = models.JSONField(default=dict, blank=True)
    bytes_per_token = models.FloatField(null=True, blank=True, help_text="On held-out text.")
    storage_key = models.CharField(max_length=255, unique=True)
    sha256 = models.CharField(max_length=64, help_text="Of tokenizer.json.")
    stats = models.JSONField(default=dict, blank=True, help_text="The training report.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class TokenizedCorpus(models.Model):
    """A version tokenized into packed train/val shards (``index.json`` + ``*.bin``)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="corpora"
    )
    version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="corpora")
    tokenizer = models.ForeignKey(Tokenizer, on_delete=models.PROTECT, related_name="corpora")
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="corpus"
    )
    seq_len = models.PositiveIntegerField()
    dtype = models.CharField(max_length=10)
    val_fraction = models.FloatField()
    seed = models.BigIntegerField(default=0)
    add_bos = models.BooleanField(default=False)
    total_tokens = models.BigIntegerField(help_text="Real tokens, padding excluded.")
    train_tokens = models.BigIntegerField()
    val_tokens = models.BigIntegerField()
    sequences = models.BigIntegerField()
    padding_tokens = models.BigIntegerField(default=0)
    shards = models.PositiveIntegerField(help_text="Shard files, both splits.")
    storage_key = models.CharField(max_length=255, unique=True)
    index = models.JSONField(default=dict, blank=True, help_text="index.json as written.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "tokenized corpora"

    def __str__(self) -> str:
        return f"Corpus {self.pk}: {self.version} with {self.tokenizer}"
