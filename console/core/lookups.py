"""A relation's ``exact`` lookup answers "no rows" for an id out of its column's range.

Django already does this for integer columns (``IntegerFieldOverflow``: ``pk=2**64`` is
an empty result), but not through a relation: ``filter(job_id=2**64)``, or the admin's
``get_object`` on a model whose primary key is a one-to-one (AlertSettings), hands the
number to the driver, and SQLite raises OverflowError (a 500). Ids from URLs and query
strings are checked where they enter (console.core.ids); this covers the paths that take
an id as text and look it up through a relation (the admin's ``<path:object_id>``).
Registered once, in CoreConfig.ready.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models.fields.related_lookups import RelatedExact


class RelatedExactInRange(RelatedExact):
    def process_rhs(self, compiler, connection):
        if isinstance(self.rhs, int) and not isinstance(self.rhs, bool):
            target = getattr(self.lhs.output_field, "target_field", None)
            internal_type = target.get_internal_type() if target is not None else ""
            if internal_type in connection.ops.integer_field_ranges:
                low, high = connection.ops.integer_field_range(internal_type)
                if (low is not None and self.rhs < low) or (high is not None and self.rhs > high):
                    raise EmptyResultSet
        return super().process_rhs(compiler, connection)
