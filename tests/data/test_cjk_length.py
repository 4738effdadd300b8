# ruff: noqa: RUF001
"""Length limits count what a reader would: a CJK character counts 3, so the default
length filter (50) keeps ordinary Chinese sentences of an English/Chinese set (it
dropped every one of them), and the cleaning report warns when a step removes most of
one language's documents, on the version page too."""

from __future__ import annotations

import json

import pytest

from console.data import services
from console.data.engine.clean import run_pipeline
from console.data.engine.langid import script_label
from console.data.engine.rules.length_filter import CJK_WEIGHT, reading_length
from console.data.engine.versions import read_version, write_version
from console.data.models import DatasetVersion
from console.jobs.models import JobState
from tests.data.helpers import SAMPLE, jsonl_bytes, run_job, staged

# Ordinary sentences, 18 to 31 characters: each well under 50 characters.
ZH = [
    "今天天气很好，我们一起去公园散步吧。",
    "这家图书馆周末开放到晚上八点，欢迎市民前来借阅。",
    "法院认为，被告未按合同约定按时交付货物。",
    "请在月底之前提交年度报告，逾期将无法受理。",
    "新修的大桥下个月通车，往返两岸只需十分钟。",
    "医生建议发烧的儿童多喝水，并注意休息。",
    "公司今年的营业收入比去年增长了百分之八。",
    "火车晚点了二十分钟，乘客们在站台上耐心等待。",
]
EN = [
    "The library will stay open until eight on weekends, the council said today.",
    "The court found that the seller failed to deliver the goods on the agreed date.",
    "Please file the annual report before the end of the month to avoid a late fee.",
    "The new bridge opens next month and cuts the crossing to ten minutes each way.",
    "Doctors advise children with a fever to drink plenty of water and to rest.",
    "The train was twenty minutes late and passengers waited patiently on the platform.",
]
DEFAULT_LENGTH = [{"rule": "length_filter", "params": {}}]  # min 50, max 1,000,000


def test_reading_length_weights_cjk_characters():
    assert reading_length("x" * 49) == 49
    assert reading_length("今天天气很好") == 6 * CJK_WEIGHT == 18
    assert reading_length("ひらがなカタカナ") == 8 * CJK_WEIGHT  # kana
    assert reading_length("한국어 문장") == 5 * CJK_WEIGHT + 1  # Hangul, and a space
    assert reading_length("Forge 训练") == 6 + 2 * CJK_WEIGHT
    twenty = "我们明天上午九点在学校门口集合出发去春游"
    assert len(twenty) == 20 and reading_length(twenty) == 60


def test_the_default_filter_keeps_a_mixed_set(tmp_path):
    assert all(len(t) < 50 for t in ZH) and all(len(t) >= 50 for t in EN)
    write_version(iter(EN + ZH), tmp_path / "src")
    report = run_pipeline(tmp_path / "src", tmp_path / "out", DEFAULT_LENGTH)
    assert [t for t in read_version(tmp_path / "out")] == EN + ZH
    [step] = report["steps"]
    assert step["languages"] == {
        "latin": {"in": len(EN), "dropped": 0},
        "zh": {"in": len(ZH), "dropped": 0},
    }
    assert report["warnings"] == []


def test_short_documents_of_both_languages_still_go(tmp_path):
    docs = ["Too short.", "太短了。", "OK" * 30, "这一句中文足够长了，所以可以被保留下来。"]
    write_version(iter(docs), tmp_path / "src")
    report = run_pipeline(tmp_path / "src", tmp_path / "out", DEFAULT_LENGTH)
    assert list(read_version(tmp_path / "out")) == docs[2:]
    assert report["steps"][0]["counters"] == {"too_short": 2}


def test_a_rule_that_removes_most_of_one_language_is_flagged(tmp_path):
    write_version(iter(EN + ZH), tmp_path / "src")
    # 70: every English sentence (74 to 82) is over it, no Chinese one (50 to 68) reaches it
    report = run_pipeline(
        tmp_path / "src",
        tmp_path / "out",
        [{"rule": "length_filter", "params": {"min_chars": 70}}, {"rule": "exact_dedup"}],
    )
    zh = report["steps"][0]["languages"]["zh"]
    assert zh["in"] == len(ZH) and zh["dropped"] > len(ZH) / 2
    [warning] = report["warnings"]
    assert (warning["step"], warning["rule"], warning["language"]) == (0, "length_filter", "zh")
    assert warning["message"] == (
        f"step 1 (Length filter) removed {zh['dropped']} of {len(ZH)} Chinese documents "
        f"({zh['dropped'] / len(ZH):.0%}): check its settings suit that language"
    )
    assert report["steps"][0]["languages"]["latin"]["dropped"] <= len(EN) // 2
    # the worker processes count the same
    parallel = run_pipeline(
        tmp_path / "src",
        tmp_path / "out-2",
        [{"rule": "length_filter", "params": {"min_chars": 70}}],
        workers=2,
    )
    assert parallel["warnings"] == [warning] and parallel["workers"] == 2


def test_the_sample_corpus_keeps_its_chinese_through_the_default_filter(tmp_path):
    docs = [
        json.loads(line)["text"]
        for name in ("en.jsonl", "zh.jsonl")
        for line in (SAMPLE / name).read_text("utf-8").splitlines()
    ]
    write_version(iter(docs), tmp_path / "src")
    report = run_pipeline(tmp_path / "src", tmp_path / "out", DEFAULT_LENGTH)
    langs = report["steps"][0]["languages"]
    zh_short = [d for d in docs if script_label(d) == "zh" and len(d) < 50]
    assert len(zh_short) >= 4  # what counting characters dropped
    assert langs["zh"]["dropped"] < len(zh_short)  # ...of which fewer go now
    assert langs["zh"]["dropped"] == sum(1 for d in zh_short if reading_length(d) < 50)
    assert report["warnings"] == []


@pytest.mark.django_db
def test_the_version_page_shows_the_warning(client, personas, data_dir):
    dataset = services.dataset_create(
        actor=personas.data_engineer, project=personas.project, name="mixed"
    )
    job = services.dataset_upload(
        actor=personas.data_engineer,
        dataset=dataset,
        upload=staged(data_dir, "mixed.jsonl", jsonl_bytes(EN + ZH)),
    )
    assert run_job(job).state == JobState.SUCCEEDED
    v1 = DatasetVersion.objects.get(dataset=dataset)
    kept = run_job(
        services.version_clean(actor=personas.data_engineer, version=v1, steps=DEFAULT_LENGTH)
    )
    assert kept.state == JobState.SUCCEEDED, kept.error
    v2 = DatasetVersion.objects.get(dataset=dataset, number=2)
    assert v2.documents == len(EN + ZH) and v2.report["warnings"] == []
    strict = [{"rule": "length_filter", "params": {"min_chars": 70}}]
    assert (
        run_job(
            services.version_clean(actor=personas.data_engineer, version=v1, steps=strict)
        ).state
        == JobState.SUCCEEDED
    )
    v3 = DatasetVersion.objects.get(dataset=dataset, number=3)
    [warning] = v3.report["warnings"]
    client.force_login(personas.viewer)
    page = client.get(f"/data/versions/{v3.pk}/").content.decode()
    assert 'data-testid="report-warning" data-language="zh"' in page
    assert f"removed {warning['dropped']} of {len(ZH)} Chinese documents" in page
    assert (
        'data-testid="report-warning"'
        not in client.get(f"/data/versions/{v2.pk}/").content.decode()
    )
