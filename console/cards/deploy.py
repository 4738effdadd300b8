"""A model version's deployment bundle: Kubernetes manifests (Deployment, Service,
HorizontalPodAutoscaler) and a serving configuration for vLLM's OpenAI-compatible server,
zipped with a README. Pure functions of the version and the FORGE_DEPLOY_* settings; the
approval gate and the audit trail are in console.cards.services.

Sizing: the GPUs needed hold the weights (the larger of the size on disk and the measured
peak memory) with 30% headroom for the KV cache at 90% of each GPU's memory
(FORGE_DEPLOY_GPU_MEMORY_GIB), rounded up to a power of two: that is the tensor-parallel
size. Host memory requests the weights plus 25% and 2 GiB (the server loads them through
host memory), limited at 1.5 times that.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings

from console.cards.render import md_escape
from console.registry.models import ModelVersion
from console.registry.selectors import VLLM_DTYPES, VLLM_VERSIONS, serving_requirements
from console.registry.services import model_folder

GIB = 1024**3
PORT = 8000
MOUNT = "/models"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_./-]+$")


def k8s_name(version: ModelVersion) -> str:
    """A DNS-1035 label for the version's objects: forge-<name>-v<number>."""
    slug = re.sub(r"[^a-z0-9-]+", "-", f"{version.name}-v{version.number}".lower())
    slug = re.sub(r"-+", "-", slug).strip("-")
    return f"forge-{slug}"[:63].rstrip("-")


def _gib(n: float) -> int:
    return max(1, math.ceil(n / GIB))


def _max_model_len(version: ModelVersion) -> int:
    config: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        config = json.loads((model_folder(version) / "config.json").read_text("utf-8"))
    model = (version.lineage or {}).get("model") or {}
    for value in (
        config.get("max_position_embeddings"),
        config.get("n_positions"),
        model.get("max_positions"),
    ):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 2048


def sizing(version: ModelVersion) -> dict[str, Any]:
    measured = version.measured or {}
    weights = max(int(measured.get("size_bytes") or 0), version.size_bytes, 1)
    peak = int(measured.get("peak_memory_bytes") or 0)
    need = max(weights, peak) * 1.3
    per_gpu = settings.FORGE_DEPLOY_GPU_MEMORY_GIB * GIB * 0.9
    gpus = 1 << max(0, math.ceil(math.log2(max(1.0, need / per_gpu))))
    memory_request = _gib(max(weights, peak) * 1.25 + 2 * GIB)
    return {
        "weights_bytes": weights,
        "peak_memory_bytes": peak or None,
        "gpus": gpus,
        "memory_request_gib": memory_request,
        "memory_limit_gib": math.ceil(memory_request * 1.5),
    }


def _vllm_quantization(version: ModelVersion) -> str | None:
    """vLLM's --quantization value for the version's weights (None: unquantized)."""
    vllm = serving_requirements(version)["vllm"] or {}
    return vllm.get("quantization")


def serving_config(version: ModelVersion) -> dict[str, Any]:
    """vLLM's OpenAI-compatible server: the image's entrypoint takes these args."""
    size = sizing(version)
    name = k8s_name(version)
    model_path = f"{MOUNT}/{version.folder}"
    dtype = VLLM_DTYPES.get(version.precision, "auto")
    quantization = _vllm_quantization(version)
    if quantization:
        dtype = "bfloat16"  # the activations' dtype; the weights stay as stored
    args = [
        "--model",
        model_path,
        "--served-model-name",
        name,
        "--dtype",
        dtype,
        "--max-model-len",
        str(_max_model_len(version)),
        "--tensor-parallel-size",
        str(size["gpus"]),
        "--gpu-memory-utilization",
        "0.9",
        "--host",
        "0.0.0.0",  # noqa: S104 - inside the pod; the Service is the only way in
        "--port",
        str(PORT),
        *(["--quantization", quantization] if quantization else []),
    ]
    return {
        "server": "vllm-openai",
        "image": settings.FORGE_DEPLOY_SERVING_IMAGE,
        "model_path": model_path,
        "served_model_name": name,
        "dtype": dtype,
        "quantization": quantization,
        "vllm_versions": VLLM_VERSIONS if quantization else None,
        "max_model_len": _max_model_len(version),
        "tensor_parallel_size": size["gpus"],
        "port": PORT,
        "args": args,
        "env": {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"},
    }


def manifests(version: ModelVersion) -> dict[str, dict[str, Any]]:
    """{"deployment": ..., "service": ..., "hpa": ...} as the Kubernetes API's dicts."""
    name = k8s_name(version)
    size = sizing(version)
    serving = serving_config(version)
    labels = {
        "app.kubernetes.io/name": "forge-model",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "forge",
        "forge/project": version.project.slug,
        "forge/model-version": str(version.pk),
    }
    selector = {"app.kubernetes.io/instance": name}
    gpus = str(size["gpus"])
    probe = {"httpGet": {"path": "/health", "port": "http"}, "timeoutSeconds": 5}
    volume = (
        {
            "name": "models",
            "persistentVolumeClaim": {
                "claimName": settings.FORGE_DEPLOY_MODEL_VOLUME,
                "readOnly": True,
            },
        }
        if settings.FORGE_DEPLOY_MODEL_VOLUME
        else {
            "name": "models",
            "hostPath": {"path": str(Path(settings.FORGE_MODELS_DIR)), "type": "Directory"},
        }
    )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": serving["image"],
                            "args": serving["args"],
                            "env": [{"name": k, "value": v} for k, v in serving["env"].items()],
                            "ports": [{"name": "http", "containerPort": PORT}],
                            "resources": {
                                "requests": {
                                    "cpu": "2",
                                    "memory": f"{size['memory_request_gib']}Gi",
                                    "nvidia.com/gpu": gpus,
                                },
                                "limits": {
                                    "cpu": "8",
                                    "memory": f"{size['memory_limit_gib']}Gi",
                                    "nvidia.com/gpu": gpus,
                                },
                            },
                            "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": 90},
                            "readinessProbe": {
                                **probe,
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                            "livenessProbe": {
                                **probe,
                                "periodSeconds": 20,
                                "failureThreshold": 3,
                            },
                            "volumeMounts": [
                                {"name": "models", "mountPath": MOUNT, "readOnly": True},
                                {"name": "shm", "mountPath": "/dev/shm"},  # noqa: S108
                            ],
                        }
                    ],
                    "volumes": [
                        volume,
                        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
    }
    return {"deployment": deployment, "service": service, "hpa": hpa}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) else json.dumps(key)


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML of dicts, lists and scalars (no dependency; every string quoted)."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}{_key(k)}:")
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, dict | list):
                lines.append(f"{pad}{_key(k)}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                lines.append(f"{pad}{_key(k)}: {_scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and item:
                block = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {block[indent + 2 :]}")
            else:
                lines.append(
                    f"{pad}- {_scalar(item) if not isinstance(item, dict | list) else item}"
                )
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines)


def _readme(version: ModelVersion, name: str) -> str:
    size = sizing(version)
    serving = serving_config(version)
    volume = settings.FORGE_DEPLOY_MODEL_VOLUME
    where = (
        f"the PersistentVolumeClaim `{volume}`"
        if volume
        else f"a hostPath of `{settings.FORGE_MODELS_DIR}` on the node (set "
        "FORGE_DEPLOY_MODEL_VOLUME to a PersistentVolumeClaim name for a cluster)"
    )
    sums = "\n".join(f"{f['sha256']}  {f['path']}" for f in version.files)
    quantized = ""
    if serving["quantization"]:
        quantized = (
            f"\nThis is a quantized version ({version.quant_method}): its weights are in the "
            "compressed-tensors format, and the server is started with `--quantization "
            f"{serving['quantization']}` and `--dtype {serving['dtype']}`. vLLM "
            f"{serving['vllm_versions']} loads it (each of those releases pins a "
            "compressed-tensors that reads this folder's `quantization_config`); so does "
            "plain transformers with `compressed-tensors` installed "
            "(`AutoModelForCausalLM.from_pretrained(folder)`)."
            + (
                " FP8 runs natively on Hopper and Ada GPUs (H100, H200, L40S, L4)."
                if version.precision == "fp8"
                else ""
            )
            + "\n"
        )
    return f"""# Deployment bundle: {md_escape(version)} ({name})

Generated by Forge for model version {version.pk} of project {version.project.slug},
status {version.status} when exported.

## Contents

- `k8s/deployment.yaml`: the server (image `{serving["image"]}`), {size["gpus"]} GPU(s)
  (`nvidia.com/gpu`), memory request {size["memory_request_gib"]}Gi and limit
  {size["memory_limit_gib"]}Gi, startup, readiness and liveness probes on `/health`
  (port {PORT}), the model folder mounted read-only at `{MOUNT}` from {where}.
- `k8s/service.yaml`: a ClusterIP Service, port 80 to the server's port {PORT}.
- `k8s/hpa.yaml`: an autoscaling/v2 HorizontalPodAutoscaler (1 to 4 replicas on CPU
  utilisation; with a metrics adapter, scale on the server's queue length instead).
- `serving/vllm.json`: the server's arguments and environment (model path
  `{serving["model_path"]}`, dtype {serving["dtype"]}, max model length
  {serving["max_model_len"]}, tensor parallel {serving["tensor_parallel_size"]}).
- `MODEL_CARD.md`: the model card at export time.
{quantized}
## Apply

    kubectl apply -f k8s/

The model's folder must be present under the mounted volume at `{version.folder}`;
verify it against these checksums first (`sha256sum -c`):

```
{sums}
```

Then query the OpenAI-compatible API, for example
`curl http://{name}/v1/completions -d '{{"model": "{name}", "prompt": "Hello"}}'`.
"""


def bundle_zip(version: ModelVersion, *, card_markdown: str) -> bytes:
    name = k8s_name(version)
    docs = manifests(version)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}/README.md", _readme(version, name))
        archive.writestr(f"{name}/MODEL_CARD.md", card_markdown)
        for key in ("deployment", "service", "hpa"):
            archive.writestr(f"{name}/k8s/{key}.yaml", to_yaml(docs[key]) + "\n")
        archive.writestr(
            f"{name}/serving/vllm.json", json.dumps(serving_config(version), indent=2) + "\n"
        )
    return buffer.getvalue()
