"""The one write of this app: exporting a deployment bundle, which is allowed only for an
approved or production version and audit-logged either way ("deploy.bundle" or
"deploy.refused")."""

from __future__ import annotations

from console.audit.services import audit_record
from console.cards import deploy, render
from console.cards.selectors import card_data
from console.core.errors import Conflict
from console.core.types import Actor
from console.registry.models import ModelVersion, Status, WeightFormat

DEPLOYABLE = frozenset({Status.APPROVED, Status.PRODUCTION})


def deployment_refusal(version: ModelVersion) -> str:
    """Why the version may not be deployed ("" when it may)."""
    if version.is_legacy:
        return (
            f"{version} is in Forge's own legacy quantized format, which no serving stack "
            "loads: quantize its full-precision parent again (compressed-tensors)."
        )
    if version.weight_format == WeightFormat.ONNX:
        return (
            f"{version} is an ONNX export; the deployment bundle starts vLLM, which serves "
            "its full-precision parent or a quantized version instead."
        )
    if version.status in DEPLOYABLE:
        return ""
    return (
        f"{version} is {version.get_status_display().lower()}: only an approved or production "
        "version gets a deployment bundle."
    )


def deployment_bundle_export(*, actor: Actor, version: ModelVersion) -> tuple[str, bytes]:
    """(file name, zip bytes) of the version's bundle; Conflict (409) when not approved."""
    version.refresh_from_db(fields=["status"])
    reason = deployment_refusal(version)
    if reason:
        audit_record(
            action="deploy.refused",
            actor=actor,
            obj=version,
            after={"status": version.status, "reason": reason},
        )
        raise Conflict(reason)
    data = deploy.bundle_zip(version, card_markdown=render.card_markdown(card_data(version)))
    audit_record(
        action="deploy.bundle",
        actor=actor,
        obj=version,
        after={"status": version.status, "bytes": len(data)},
    )
    return f"{deploy.k8s_name(version)}-deployment.zip", data
