"""Duplicate clusters for the report: how many, how big, and a few examples.

Document indices are positions in the pipeline's input version (0-based). Memory:
one dict entry per cluster (that is, at most one per duplicate found)."""

from __future__ import annotations

from typing import Any


class ClusterLog:
    def __init__(self, max_examples: int = 10, max_members: int = 5) -> None:
        self.max_examples = max_examples
        self.max_members = max_members
        self.sizes: dict[int, int] = {}  # kept document -> duplicates dropped for it
        self.duplicates = 0
        self._examples: dict[int, dict[str, Any]] = {}

    def add(self, kept: int, duplicate: int, similarity: float | None = None) -> None:
        self.duplicates += 1
        self.sizes[kept] = self.sizes.get(kept, 0) + 1
        example = self._examples.get(kept)
        if example is None and len(self._examples) < self.max_examples:
            example = self._examples[kept] = {"kept": kept, "duplicates": []}
        if example is not None and len(example["duplicates"]) < self.max_members:
            entry: dict[str, Any] = {"index": duplicate}
            if similarity is not None:
                entry["similarity"] = round(similarity, 3)
            example["duplicates"].append(entry)

    def summary(self) -> dict[str, Any]:
        sizes = self.sizes.values()
        return {
            "clusters": len(self.sizes),
            "duplicates": self.duplicates,
            "largest_cluster": (max(sizes) + 1) if self.sizes else 0,
            "examples": list(self._examples.values()),
        }
