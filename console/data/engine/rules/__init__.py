"""The cleaning rules, one module each. ``RULES`` maps a rule's name to its class,
in the order the console lists them (a sensible order to run them in, too)."""

from __future__ import annotations

from console.data.engine.rules import (
    drop_special_chars,
    exact_dedup,
    length_filter,
    near_dedup,
    normalize_whitespace,
    pii_cn_resident_id,
    pii_credit_card,
    pii_email,
    pii_iban,
    pii_ip,
    pii_phone,
    quality_filter,
    remove_urls,
)
from console.data.engine.rules.base import Rule

RULES: dict[str, type[Rule]] = {
    rule.name: rule
    for rule in (
        remove_urls.RemoveUrls,
        drop_special_chars.DropSpecialChars,
        normalize_whitespace.NormalizeWhitespace,
        length_filter.LengthFilter,
        quality_filter.QualityFilter,
        pii_email.MaskEmail,
        pii_credit_card.MaskCreditCard,
        pii_iban.MaskIban,
        pii_cn_resident_id.MaskCnResidentId,
        pii_ip.MaskIp,
        pii_phone.MaskPhone,
        exact_dedup.ExactDedup,
        near_dedup.NearDedup,
    )
}


def pii_rules() -> list[Rule]:
    """Every PII rule with its default mask, in pipeline order: what masks personal data
    outside a cleaning run (fine-tuning records on ingest, feedback on write)."""
    return [rule(rule.Params()) for rule in RULES.values() if rule.pii_type]


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    """``text`` with every span the PII rules find masked, and the spans masked per PII
    type (types with none left out)."""
    found: dict[str, int] = {}
    for rule in pii_rules():
        new, counters = rule.apply(text, 0)
        if counters.get("hits") and rule.pii_type:
            found[rule.pii_type] = found.get(rule.pii_type, 0) + counters["hits"]
        text = new if new is not None else text
    return text, found


__all__ = ["RULES", "Rule", "mask_pii", "pii_rules"]
