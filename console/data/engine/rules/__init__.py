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

__all__ = ["RULES", "Rule"]
