from django.contrib import admin

from console.data.models import Dataset, DatasetVersion, TokenizedCorpus, Tokenizer


class _ReadOnly(admin.ModelAdmin):
    """Artifacts are immutable: made by their jobs, never edited or deleted here.
    Datasets are created on the Data pages or through the API (same service)."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Dataset)
class DatasetAdmin(_ReadOnly):
    list_display = ["name", "project", "text_field", "created_by", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "description"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(_ReadOnly):
    list_display = ["__str__", "origin", "documents", "bytes", "parent", "job", "created_at"]
    list_filter = ["origin", "dataset__project"]
    search_fields = ["dataset__name", "sha256", "storage_key"]


@admin.register(Tokenizer)
class TokenizerAdmin(_ReadOnly):
    list_display = ["name", "project", "vocab_size", "bytes_per_token", "version", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "sha256"]


@admin.register(TokenizedCorpus)
class TokenizedCorpusAdmin(_ReadOnly):
    list_display = ["__str__", "total_tokens", "seq_len", "dtype", "shards", "created_at"]
    list_filter = ["project"]
