"""Model folders on a GPU node: check, load, score, sample, quantize, measure.

Importable without Django. Weights are safetensors only; pickle files are refused
unopened (RELIABILITY S10).
"""

from gpu_agent.models.evaluate import generate, generate_with, load_model, perplexity
from gpu_agent.models.folder import ModelFolderError, check_folder, file_manifest, verify_manifest
from gpu_agent.models.measure import measure
from gpu_agent.models.quantize import quantize, runtime_notes, supported_methods

__all__ = [
    "ModelFolderError",
    "check_folder",
    "file_manifest",
    "generate",
    "generate_with",
    "load_model",
    "measure",
    "perplexity",
    "quantize",
    "runtime_notes",
    "supported_methods",
    "verify_manifest",
]
