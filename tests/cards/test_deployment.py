"""The deployment bundle: refused (409 and a "deploy.refused" audit event) unless the
version is approved or in production; for an approved one, a zip whose manifests load
into the official Kubernetes client's models (V1Deployment, V1Service,
V2HorizontalPodAutoscaler) with GPU and memory requests and limits, probes on the serving
port and the model folder mounted read-only, and a vLLM serving configuration."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import yaml
from kubernetes.client import ApiClient

from console.audit.models import AuditEvent
from console.cards.deploy import k8s_name, sizing, to_yaml
from console.registry.models import ModelVersion

pytestmark = pytest.mark.django_db
GIB = 1024**3


def _approve(version, status="approved"):
    ModelVersion.objects.filter(pk=version.pk).update(status=status)
    version.refresh_from_db()


def _k8s(data: dict, kind: str):
    """Load a manifest into the kubernetes client's model; a field the model does not
    know (a typo) is dropped there, so the round trip must give the manifest back."""
    client = ApiClient()
    model = client._ApiClient__deserialize(data, kind)
    assert client.sanitize_for_serialization(model) == data, kind
    return model


def _bundle(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("status", ["draft", "in_review", "archived"])
def test_refused_unless_approved(api, client, version, personas, status):
    _approve(version, status)
    response = api(personas.viewer).get(f"/api/v1/models/{version.pk}/deployment/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert "only an approved or production version" in response.json()["detail"]
    client.force_login(personas.ml_engineer)
    page = client.get(f"/models/{version.pk}/deployment.zip")
    assert page.status_code == 409 and b'data-testid="refused"' in page.content
    events = AuditEvent.objects.filter(action="deploy.refused", object_id=str(version.pk))
    assert [e.actor for e in events.order_by("id")] == [personas.viewer, personas.ml_engineer]
    assert events.first().after["status"] == status
    assert not AuditEvent.objects.filter(action="deploy.bundle").exists()


@pytest.mark.parametrize("status", ["approved", "production"])
def test_bundle_for_an_approved_version(api, family, personas, settings, status):
    settings.FORGE_DEPLOY_MODEL_VOLUME = "forge-models"
    settings.FORGE_DEPLOY_GPU_MEMORY_GIB = 80
    version = family["version"]
    _approve(version, status)
    response = api(personas.viewer).get(f"/api/v1/models/{version.pk}/deployment/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    name = k8s_name(version)
    assert name == "forge-tiny-lm-v1"
    assert f'filename="{name}-deployment.zip"' in response["Content-Disposition"]
    files = _bundle(response.content)
    assert set(files) == {
        "README.md",
        "MODEL_CARD.md",
        "k8s/deployment.yaml",
        "k8s/service.yaml",
        "k8s/hpa.yaml",
        "serving/vllm.json",
    }
    deployment = _k8s(yaml.safe_load(files["k8s/deployment.yaml"]), "V1Deployment")
    service = _k8s(yaml.safe_load(files["k8s/service.yaml"]), "V1Service")
    hpa = _k8s(yaml.safe_load(files["k8s/hpa.yaml"]), "V2HorizontalPodAutoscaler")

    pod = deployment.spec.template.spec
    (container,) = pod.containers
    assert container.image == settings.FORGE_DEPLOY_SERVING_IMAGE
    # measured peak 3 GiB: requests (peak x 1.25 + 2 GiB) = 6 GiB, limit 9 GiB, one GPU
    assert container.resources.requests == {"cpu": "2", "memory": "6Gi", "nvidia.com/gpu": "1"}
    assert container.resources.limits == {"cpu": "8", "memory": "9Gi", "nvidia.com/gpu": "1"}
    (port,) = container.ports
    assert (port.name, port.container_port) == ("http", 8000)
    for probe in (container.readiness_probe, container.liveness_probe, container.startup_probe):
        assert probe.http_get.path == "/health" and probe.http_get.port == "http"
    mount = next(m for m in container.volume_mounts if m.name == "models")
    assert mount.read_only is True and mount.mount_path == "/models"
    volume = next(v for v in pod.volumes if v.name == "models")
    assert volume.persistent_volume_claim.claim_name == "forge-models"
    assert volume.persistent_volume_claim.read_only is True
    assert deployment.spec.selector.match_labels.items() <= pod_labels(deployment).items()

    assert service.spec.selector == deployment.spec.selector.match_labels
    assert service.spec.ports[0].target_port == "http"
    assert hpa.api_version == "autoscaling/v2"
    assert (hpa.spec.scale_target_ref.kind, hpa.spec.scale_target_ref.name) == ("Deployment", name)
    assert hpa.spec.min_replicas == 1 and hpa.spec.max_replicas >= 1

    serving = json.loads(files["serving/vllm.json"])
    args = container.args
    assert serving["args"] == args
    assert args[args.index("--model") + 1] == f"/models/{version.folder}"
    assert args[args.index("--served-model-name") + 1] == name
    assert args[args.index("--dtype") + 1] == "float32"  # the version's precision
    assert args[args.index("--max-model-len") + 1] == "64"  # config.json's positions
    assert args[args.index("--tensor-parallel-size") + 1] == "1"
    readme = files["README.md"].decode()
    assert "kubectl apply -f k8s/" in readme
    assert all(f["sha256"] in readme for f in version.files)
    assert files["MODEL_CARD.md"].decode().startswith("# Model card: tiny-lm v1")
    event = AuditEvent.objects.get(action="deploy.bundle")
    assert event.actor == personas.viewer and event.object_id == str(version.pk)


def pod_labels(deployment) -> dict:
    return deployment.spec.template.metadata.labels


def test_browser_download_and_hostpath_without_a_claim(client, version, personas, settings):
    settings.FORGE_DEPLOY_MODEL_VOLUME = ""
    _approve(version)
    client.force_login(personas.viewer)
    response = client.get(f"/models/{version.pk}/deployment.zip")
    assert response.status_code == 200
    manifest = yaml.safe_load(_bundle(response.content)["k8s/deployment.yaml"])
    pod = _k8s(manifest, "V1Deployment").spec.template.spec
    volume = next(v for v in pod.volumes if v.name == "models")
    assert volume.host_path.path == str(settings.FORGE_MODELS_DIR)
    assert next(m for m in pod.containers[0].volume_mounts if m.name == "models").read_only
    client.force_login(personas.stranger)
    assert client.get(f"/models/{version.pk}/deployment.zip").status_code == 404


def test_gpus_scale_with_the_weights(version, settings):
    settings.FORGE_DEPLOY_GPU_MEMORY_GIB = 80
    ModelVersion.objects.filter(pk=version.pk).update(
        measured={"size_bytes": 140 * GIB, "peak_memory_bytes": 150 * GIB}
    )
    version.refresh_from_db()
    size = sizing(version)
    # 150 GiB x 1.3 over 72 GiB usable per GPU: 2.7 -> 4 GPUs (a power of two)
    assert size["gpus"] == 4
    assert size["memory_request_gib"] == 190 and size["memory_limit_gib"] == 285


def test_yaml_writer_round_trips():
    doc = {
        "a": [{"b": 1, "c": ["x", 'q"uote', "#not: a comment"]}, [], {}],
        "nvidia.com/gpu": "1",
        "odd key": True,
        "none": None,
        "f": 0.5,
        "empty": {},
    }
    assert yaml.safe_load(to_yaml(doc)) == doc


def test_a_quantized_versions_bundle_starts_vllm_with_its_quantization(
    api, family, personas, settings
):
    child = family["child"]
    _approve(child)
    response = api(personas.viewer).get(f"/api/v1/models/{child.pk}/deployment/")
    assert response.status_code == 200, response.content
    files = _bundle(response.content)
    serving = json.loads(files["serving/vllm.json"])
    args = serving["args"]
    assert args[args.index("--quantization") + 1] == "compressed-tensors"
    assert args[args.index("--dtype") + 1] == "bfloat16"
    assert serving["vllm_versions"] == ">=0.10,<=0.34"
    readme = files["README.md"].decode()
    assert "--quantization compressed-tensors" in readme and "vLLM >=0.10,<=0.34" in readme


def test_a_legacy_forge_only_version_gets_no_bundle(api, family, personas):
    child = family["child"]
    ModelVersion.objects.filter(pk=child.pk).update(weight_format="forge-legacy")
    _approve(child)
    response = api(personas.viewer).get(f"/api/v1/models/{child.pk}/deployment/")
    assert response.status_code == 409
    assert "no serving stack loads" in response.json()["detail"]
