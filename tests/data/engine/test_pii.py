# ruff: noqa: RUF001
"""PII masking: precision and recall on a labelled sample, and each rule's masks.

pii_sample.jsonl: 100 lines of English, Chinese, German and French text with
labelled spans ([start, end, label]); about a third of the lines hold only
look-alikes that must stay (dates, order and tracking numbers, non-Luhn 16-digit
numbers, IBANs and ID numbers with bad checksums, version strings, MAC addresses).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from console.data.engine.clean import build_rule, validate_pipeline
from console.data.engine.rules import (
    pii_cn_resident_id,
    pii_credit_card,
    pii_email,
    pii_iban,
    pii_ip,
    pii_phone,
)

SAMPLE = Path(__file__).with_name("pii_sample.jsonl")
DETECTORS = {
    "email": pii_email.find,
    "phone": pii_phone.find,
    "credit_card": pii_credit_card.find,
    "iban": pii_iban.find,
    "cn_resident_id": pii_cn_resident_id.find,
    "ip": pii_ip.find,
}
PII_RULES = [
    "mask_email",
    "mask_credit_card",
    "mask_iban",
    "mask_cn_resident_id",
    "mask_ip",
    "mask_phone",
]


def load_sample():
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


def rule(name: str, **params):
    return build_rule(validate_pipeline([{"rule": name, "params": params}])[0])


def test_sample_is_labelled_and_has_negatives():
    sample = load_sample()
    assert len(sample) >= 100
    labels = Counter(label for row in sample for _, _, label in row["spans"])
    assert set(labels) == set(DETECTORS)
    assert min(labels.values()) >= 6
    assert sum(1 for row in sample if not row["spans"]) >= 30


def test_precision_and_recall_on_the_labelled_sample():
    tp, fp, fn = Counter(), Counter(), Counter()
    for row in load_sample():
        text = row["text"]
        gold = {(s, e, label) for s, e, label in row["spans"]}
        pred = {(s, e, label) for label, find in DETECTORS.items() for s, e in find(text)}
        for _, _, label in pred & gold:
            tp[label] += 1
        for _, _, label in pred - gold:
            fp[label] += 1
        for _, _, label in gold - pred:
            fn[label] += 1
    precision = sum(tp.values()) / (sum(tp.values()) + sum(fp.values()))
    recall = sum(tp.values()) / (sum(tp.values()) + sum(fn.values()))
    assert precision >= 0.95, (fp, fn)
    assert recall >= 0.95, (fp, fn)
    for label in DETECTORS:
        assert tp[label] / (tp[label] + fp[label]) >= 0.9, label
        assert tp[label] / (tp[label] + fn[label]) >= 0.9, label


def test_masking_leaves_no_labelled_value_in_any_rule_order():
    """All PII rules together, in the listed order and reversed: every labelled value
    is gone and the outputs agree (masks never feed a later rule)."""
    forward = [rule(name) for name in PII_RULES]
    backward = list(reversed([rule(name) for name in PII_RULES]))
    for row in load_sample():
        outputs = []
        for rules in (forward, backward):
            text = row["text"]
            for r in rules:
                text, _ = r.apply(text, 0)
            outputs.append(text)
        assert outputs[0] == outputs[1], row["text"]
        for s, e, _ in row["spans"]:
            assert row["text"][s:e] not in outputs[0]


def test_credit_card_mask_keeps_separators_and_last_four():
    mask = rule("mask_credit_card")
    assert mask.apply("card 4111-1111-1111-1111.", 0) == ("card ****-****-****-1111.", {"hits": 1})
    assert mask.apply("卡号4111 1111 1111 1111。", 0)[0] == "卡号**** **** **** 1111。"
    assert mask.apply("Amex 3782 822463 10005", 0)[0] == "Amex **** ****** *0005"
    assert mask.apply("4111 1111 1111 1111 123 (CVV)", 0)[0] == "**** **** **** 1111 123 (CVV)"
    # The example fails the Luhn check: by decision it is not a card number.
    assert mask.apply("4111-1111-1111-1234", 0) == ("4111-1111-1111-1234", {})
    assert (
        rule("mask_credit_card", keep_last=0, mask_char="#").apply("4111111111111111", 0)[0]
        == "#" * 16
    )


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("mask_email", "请联系zhang.wei@example.cn获取", "请联系[EMAIL]获取"),
        ("mask_phone", "电话：010-62751234，手机13800138000。", "电话：[PHONE]，手机[PHONE]。"),
        ("mask_iban", "IBAN: DE89 3704 0044 0532 0130 00.", "IBAN: [IBAN]."),
        ("mask_cn_resident_id", "身份证号11010519491231002X。", "身份证号[CN_ID]。"),
        ("mask_ip", "from 203.0.113.45 and 2001:db8::1.", "from [IP] and [IP]."),
    ],
)
def test_each_pii_rule_masks_with_its_tag(name, text, expected):
    new, counts = rule(name).apply(text, 0)
    assert new == expected
    assert counts["hits"] == expected.count("[")


def test_ip_rule_can_keep_private_addresses():
    keep = rule("mask_ip", mask_private=False)
    assert keep.apply("lan 192.168.0.1, wan 8.8.8.8, lo ::1", 0)[0] == (
        "lan 192.168.0.1, wan [IP], lo ::1"
    )


def test_replacement_must_not_contain_digits():
    from console.data.engine.clean import PipelineError

    with pytest.raises(PipelineError) as info:
        validate_pipeline([{"rule": "mask_phone", "params": {"replacement": "[PHONE1]"}}])
    assert info.value.errors == {"0": {"replacement": ["must contain no digits and no '@'"]}}


def test_checksums():
    assert pii_credit_card.luhn_ok("4111111111111111")
    assert not pii_credit_card.luhn_ok("4111111111111234")
    assert pii_iban.checksum_ok("GB82WEST12345698765432")
    assert not pii_iban.checksum_ok("GB00WEST12345698765432")
    assert pii_cn_resident_id.valid("11010519491231002X")
    assert pii_cn_resident_id.valid("11010519491231002x")
    assert not pii_cn_resident_id.valid("110105194912310021")
    assert not pii_cn_resident_id.valid("110105194913310028")  # no 13th month
