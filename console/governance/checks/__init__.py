"""Automated review checks, run as ``review.check`` jobs on a model version's folder:
bias probe (demographic parity difference), toxicity (offline lexicon
scorer), PII leakage (the data pipeline's detectors over sampled generations) and
fact check (accuracy on an uploaded question/answer set).

Django-free: ``run_check(kind, folder, threshold=…, params=…)`` loads the model once,
generates, scores and returns a JSON-able result whose ``passed`` compares ``value``
with the threshold in the check's direction (``max``: value ≤ threshold passes;
``min``: value ≥ threshold passes).
"""

from console.governance.checks.probes import (
    CHECKS,
    DEFAULT_THRESHOLDS,
    DIRECTIONS,
    FACTCHECK_MODES,
    parse_qa,
    run_check,
)

__all__ = [
    "CHECKS",
    "DEFAULT_THRESHOLDS",
    "DIRECTIONS",
    "FACTCHECK_MODES",
    "parse_qa",
    "run_check",
]
