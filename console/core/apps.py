from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "console.core"
    label = "core"

    def ready(self) -> None:
        from django.db.models import ForeignObject
        from django.urls import register_converter

        from console.core import checks  # noqa: F401 - registers the LIFECYCLE_EFFECTS check
        from console.core.ids import IdConverter
        from console.core.lookups import RelatedExactInRange

        # Before any urls.py is imported (URLs load lazily, after the apps are ready).
        register_converter(IdConverter, "id")
        # Replaces Django's "exact" on relations (ForeignKey, OneToOneField).
        ForeignObject.register_lookup(RelatedExactInRange)
