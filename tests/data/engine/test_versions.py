# ruff: noqa: RUF001
from __future__ import annotations

import hashlib
import json

import pytest

from console.data.engine.langid import classify, estimate_mix
from console.data.engine.storage import LocalStorage
from console.data.engine.versions import (
    create_version,
    file_sha256,
    read_manifest,
    read_version,
    verify_version,
    write_version,
)

TEXTS = [
    "The court held that the statute applies, and the appeal was dismissed by the panel.",
    "本院认为，被告的行为构成违约，应当承担相应的民事责任。",
    'Quotes " and \\ backslashes, newlines\nand tabs\t, emoji 😀, NUL-free.',
    "Der Patient ist nicht in der Klinik und die Dosis wird auf den Tag genau dokumentiert.",
]


def test_round_trip_and_manifest(tmp_path):
    stats = write_version(iter(TEXTS), tmp_path / "v1", extra={"source": {"name": "a.jsonl"}})
    assert list(read_version(tmp_path / "v1")) == TEXTS
    documents = tmp_path / "v1" / "documents.jsonl"
    raw = documents.read_bytes()
    assert stats.documents == 4
    assert stats.bytes == len(raw)
    assert stats.sha256 == hashlib.sha256(raw).hexdigest() == file_sha256(documents)
    assert stats.text_bytes == sum(len(t.encode()) for t in TEXTS)
    assert "本院认为" in raw.decode("utf-8")  # stored readable, not \\u-escaped
    manifest = read_manifest(tmp_path / "v1")
    assert manifest["format"] == "forge.dataset.v1"
    assert manifest["documents"] == 4
    assert manifest["sha256"] == stats.sha256
    assert manifest["source"] == {"name": "a.jsonl"}
    assert sum(manifest["language_mix"].values()) == pytest.approx(1.0, abs=1e-3)
    assert verify_version(tmp_path / "v1")
    documents.write_bytes(raw.replace(b"court", b"COURT"))
    assert not verify_version(tmp_path / "v1")


def test_every_line_is_json_with_text(tmp_path):
    write_version(iter(TEXTS), tmp_path / "v")
    lines = (tmp_path / "v" / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [{"text": t} for t in TEXTS]


def test_create_version_is_all_or_nothing(tmp_path):
    storage = LocalStorage(tmp_path / "store")

    def docs():
        yield "one"
        raise ValueError("bad input at document 2")

    with pytest.raises(ValueError, match="document 2"):
        create_version(storage, "datasets/7/v1", docs())
    assert list(storage.root.rglob("*")) == []
    stats = create_version(storage, "datasets/7/v1", iter(["one", "two"]))
    assert stats.documents == 2
    assert read_manifest(storage.path("datasets/7/v1"))["documents"] == 2


def test_progress_callback(tmp_path):
    seen = []
    write_version(
        (f"doc {i}" for i in range(25)),
        tmp_path / "v",
        progress=lambda n, b: seen.append(n),
        progress_every=10,
    )
    assert seen == [10, 20]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("The patient was admitted to the hospital and the dose of the drug was reduced.", "en"),
        ("Der Patient wurde in die Klinik aufgenommen und die Dosis wurde nicht erhöht.", "de"),
        ("Le patient a été admis dans le service et la dose a été réduite pour les reins.", "fr"),
        ("El paciente fue ingresado en el hospital y la dosis se redujo para los riñones.", "es"),
        ("患者入院后，医生减少了药物剂量，并密切观察肾功能。", "zh"),
        ("患者は入院し、薬の量を減らしました。", "ja"),
        ("환자는 입원했고 약의 용량을 줄였습니다.", "ko"),
        ("Пациент был госпитализирован, дозу препарата уменьшили.", "cyrillic"),
        ("تم إدخال المريض إلى المستشفى وخفضت الجرعة.", "arabic"),
        ("Lorem ipsum dolor sit amet consectetur adipiscing elit", "latin"),
        ("12345 67890 !!! ???", "other"),
    ],
)
def test_classify(text, label):
    assert classify(text) == label


def test_estimate_mix_is_a_share_of_documents():
    texts = ["这是一个中文文档，内容关于法院的判决。"] * 30 + [
        "This is an English document about the ruling of the court."
    ] * 10
    assert estimate_mix(texts) == {"zh": 0.75, "en": 0.25}
