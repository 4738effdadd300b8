# ruff: noqa: RUF001
"""The whole cleaning pipeline: report, lineage, workers, cancellation."""

from __future__ import annotations

import json
import random
from concurrent.futures.process import BrokenProcessPool

import psutil
import pytest

from console.data.engine.clean import PipelineCancelled, rule_catalog, run_pipeline
from console.data.engine.report import chart_series
from console.data.engine.rules import RULES
from console.data.engine.storage import LocalStorage
from console.data.engine.versions import read_manifest, read_version, write_version
from console.data.engine.workers import WORKER_MODULE
from tests.data.engine.synth import FULL_PIPELINE, chinese_doc, english_doc

DOCS = [
    "Contact jane.doe@example.org or visit https://example.com/about for details. " * 3,
    "本院认为，被告应当承担责任。联系电话：13800138000，邮箱zhang@example.cn。" * 3,
    "Contact jane.doe@example.org or visit https://example.com/about for details. " * 3,
    "short",
    "|| ==== >>> ### ---- *** ||| <<< ~~~ ^^^ $$$ === ||| --- ### >>> <<< ~~~ ^^^ $$$",
    "Pay with 4111-1111-1111-1111 and wire to DE89 3704 0044 0532 0130 00 from 203.0.113.45, "
    "citizen ID 11010519491231002X.",
]


@pytest.fixture
def source(tmp_path):
    write_version(iter(DOCS), tmp_path / "src")
    return tmp_path / "src"


def test_report_counts_everything(source, tmp_path):
    report = run_pipeline(source, tmp_path / "out", FULL_PIPELINE, extra={"job": 42})
    json.dumps(report)  # JSON-serialisable
    out = list(read_version(tmp_path / "out"))
    assert report["documents_in"] == 6
    assert report["documents_out"] == len(out) == 3
    assert report["bytes_in"] == sum(len(d.encode()) for d in DOCS)
    assert report["bytes_out"] == sum(len(d.encode()) for d in out)
    steps = {s["rule"]: s for s in report["steps"]}
    assert steps["remove_urls"]["counters"] == {"urls": 6}
    assert steps["remove_urls"]["modified"] == 2
    assert steps["length_filter"]["counters"] == {"too_short": 1}
    assert steps["quality_filter"]["counters"] == {"symbol_ratio": 1}
    assert steps["exact_dedup"]["dropped"] == 1
    assert report["pii"] == {
        "email": 9,  # 3 + 3 (the copy, masked before dedup) + 3
        "credit_card": 1,
        "iban": 1,
        "cn_resident_id": 1,
        "ip": 1,
        "phone": 3,
    }
    exact = next(d for d in report["dedup"] if d["rule"] == "exact_dedup")
    assert exact["examples"] == [{"kept": 0, "duplicates": [{"index": 2}]}]
    hist = report["length_histogram"]
    assert sum(hist["before"]) == 6 and sum(hist["after"]) == 3
    assert len(hist["labels"]) == len(hist["before"]) == len(hist["edges"])
    assert "[EMAIL]" in out[0] and "example.org" not in out[0]
    assert "本院认为" in out[1] and "[PHONE]" in out[1]
    assert "****-****-****-1111" in out[2] and "[IBAN]" in out[2] and "[CN_ID]" in out[2]
    manifest = read_manifest(tmp_path / "out")
    assert manifest["job"] == 42
    assert manifest["pipeline"][0] == {"rule": "remove_urls", "params": {"replacement": ""}}
    assert manifest["parent"]["sha256"] == read_manifest(source)["sha256"]
    assert report["version"]["sha256"] == manifest["sha256"]
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == report


def test_chart_series_and_catalog(source, tmp_path):
    report = run_pipeline(source, tmp_path / "out", FULL_PIPELINE)
    series = chart_series(report)
    assert series["funnel"]["y"][0] == 6 and series["funnel"]["y"][-1] == 3
    assert len(series["funnel"]["x"]) == len(FULL_PIPELINE) + 1
    assert series["pii"]["x"] == list(report["pii"])
    assert series["length_histogram"]["before"] == report["length_histogram"]["before"]
    catalog = rule_catalog()
    assert [c["name"] for c in catalog] == list(RULES)
    near = next(c for c in catalog if c["name"] == "near_dedup")
    assert {f["name"] for f in near["fields"]} >= {"threshold", "num_perm", "shingle_size"}


def corpus(n: int = 600) -> list[str]:
    rng = random.Random(2)
    texts = []
    for i in range(n):
        if texts and i % 10 == 0:
            texts.append(texts[rng.randrange(len(texts))])  # exact copy
        elif i % 4 == 0:
            texts.append(chinese_doc(rng, 300) + f" 电话1391234{i:04d}")
        else:
            texts.append(english_doc(rng, 120) + f" Mail user{i}@example.org today.")
    return texts


def test_workers_give_the_same_result(tmp_path):
    write_version(iter(corpus()), tmp_path / "src")
    one = run_pipeline(tmp_path / "src", tmp_path / "one", FULL_PIPELINE, workers=1)
    two = run_pipeline(tmp_path / "src", tmp_path / "two", FULL_PIPELINE, workers=2)
    assert two["workers"] == 2
    assert one["version"]["sha256"] == two["version"]["sha256"]
    for a, b in zip(one["steps"], two["steps"], strict=True):
        assert (a["documents_out"], a["modified"], a["counters"]) == (
            b["documents_out"],
            b["modified"],
            b["counters"],
        )
    assert one["dedup"] == two["dedup"]
    assert one["pii"]["email"] > 400


def test_stop_leaves_nothing_behind(tmp_path):
    write_version(iter(corpus()), tmp_path / "src")
    storage = LocalStorage(tmp_path / "store")
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 1

    for workers in (1, 2):
        with pytest.raises(PipelineCancelled), storage.atomic_dir("datasets/1/v2") as out:
            run_pipeline(
                tmp_path / "src", out, FULL_PIPELINE, should_stop=should_stop, workers=workers
            )
        calls.clear()
    assert not storage.root.exists() or list(storage.root.rglob("*")) == []


def test_a_killed_worker_fails_the_run_cleanly(tmp_path):
    """kill -9 of a worker process: the run fails at once (no hang), nothing is left."""
    write_version(iter(corpus(2000)), tmp_path / "src")
    storage = LocalStorage(tmp_path / "store")
    killed = []

    def kill_a_worker() -> bool:
        if not killed:
            for child in psutil.Process().children():
                if WORKER_MODULE in " ".join(child.cmdline()):
                    child.kill()
                    killed.append(child.pid)
                    break
        return False

    with pytest.raises(BrokenProcessPool), storage.atomic_dir("datasets/1/v2") as out:
        run_pipeline(tmp_path / "src", out, FULL_PIPELINE, workers=2, should_stop=kill_a_worker)
    assert killed
    assert list(storage.root.rglob("*")) == []


def test_progress_reaches_one(tmp_path):
    write_version(iter(corpus(300)), tmp_path / "src")
    seen = []
    run_pipeline(
        tmp_path / "src",
        tmp_path / "out",
        [{"rule": "normalize_whitespace"}],
        progress=lambda f, msg: seen.append((f, msg)),
        progress_every_s=0,
    )
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert "documents kept" in seen[-1][1]


def test_a_rule_that_drops_everything_gives_an_empty_version(source, tmp_path):
    report = run_pipeline(
        source, tmp_path / "out", [{"rule": "length_filter", "params": {"min_chars": 10_000}}]
    )
    assert report["documents_out"] == 0
    assert list(read_version(tmp_path / "out")) == []
    assert read_manifest(tmp_path / "out")["documents"] == 0
