"""The API's renderer. Its own module: DRF imports it while building APIView, so it must
not import rest_framework.views (console.audit.exceptions does)."""

from __future__ import annotations

from rest_framework import renderers

from console.core.redact import scrub_paths


class JSONRenderer(renderers.JSONRenderer):
    """Every API answer without the server's absolute storage paths: a path under a
    storage root is shown relative to it (console.core.redact). The agent API, whose
    replies name the storage roots to the agent, renders with DRF's own renderer."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return super().render(scrub_paths(data), accepted_media_type, renderer_context)
