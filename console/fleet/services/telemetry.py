"""Compaction of GPU telemetry samples into coarser rows as they age."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from console.fleet.models import GpuSample


def telemetry_compact(*, now: datetime | None = None) -> dict[str, int]:
    """Fold raw samples older than an hour into per-minute rows, and per-minute rows
    older than a day into per-15-minute rows (avg values, max utilisation kept)."""
    now = now or timezone.now()
    folded = {}
    for source, target, older in ((0, 60, timedelta(hours=1)), (60, 900, timedelta(days=1))):
        cutoff = now - older
        old = GpuSample.objects.filter(resolution_seconds=source, at__lt=cutoff)
        rows: dict[tuple[int, int], list[GpuSample]] = defaultdict(list)
        for sample in old.only(
            "gpu_id", "at", "util", "util_max", "mem_used_mib", "power_w", "temp_c"
        ):
            rows[(sample.gpu_id, int(sample.at.timestamp()) // target)].append(sample)
        with transaction.atomic():
            GpuSample.objects.bulk_create(
                [
                    GpuSample(
                        gpu_id=gpu_id,
                        at=datetime.fromtimestamp(bucket * target, tz=UTC),
                        resolution_seconds=target,
                        util=sum(s.util for s in group) / len(group),
                        util_max=max(s.util_max for s in group),
                        mem_used_mib=sum(s.mem_used_mib for s in group) / len(group),
                        power_w=sum(s.power_w for s in group) / len(group),
                        temp_c=sum(s.temp_c for s in group) / len(group),
                    )
                    for (gpu_id, bucket), group in rows.items()
                ],
                batch_size=2000,
            )
            deleted, _ = old.delete()
        folded[f"{source}->{target}"] = deleted
    return folded
