"""Mask payment card numbers: 13 to 19 digits, optionally grouped by spaces or
hyphens, with a card-network prefix (2-6) and a valid Luhn checksum. Only
Luhn-valid numbers are masked: ``4111-1111-1111-1111`` becomes
``****-****-****-1111`` (separators kept, last four kept), while
``4111-1111-1111-1234`` (the issue's example, whose checksum fails) and other
16-digit order or tracking numbers stay. An 18-digit Chinese resident ID number
with a valid checksum is left to ``mask_cn_resident_id``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from console.data.engine.rules import pii_cn_resident_id
from console.data.engine.rules._pii import PiiRule, Span

# A digit not preceded by a word character or a number's punctuation (the lookbehind
# comes after the first digit so that re can scan for digits quickly).
_CARD = re.compile(
    r"[0-9](?<![0-9A-Za-z\-.,][0-9])(?:[ \-]?[0-9]){12,18}(?![0-9A-Za-z]|[\-.,][0-9])"
)

_IBAN_HEAD = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2} $")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _network_prefix(d: str) -> bool:
    if d[0] == "2":
        return 2221 <= int(d[:4]) <= 2720  # Mastercard 2-series
    if d[0] == "3":
        return d[:2] in ("30", "34", "35", "36", "37", "38", "39")
    return d[0] in "456"


def _card_length(s: str) -> int:
    """Length of the card number that ``s`` starts with: all of it, or the longest
    part ending at a separator ("4111 1111 1111 1111 123", a number and its CVV)."""
    ends = [len(s), *(i for i in range(len(s) - 1, 0, -1) if s[i] in " -")]
    for end in ends:
        part = s[:end]
        if len({c for c in part if not c.isdigit()}) > 1:
            continue  # mixed separators
        digits = part.replace(" ", "").replace("-", "")
        if len(digits) < 13:
            break
        if (
            _network_prefix(digits)
            and luhn_ok(digits)
            and not (len(digits) == 18 and pii_cn_resident_id.valid(digits))
        ):
            return end
    return 0


def find(text: str) -> list[Span]:
    spans = []
    for m in _CARD.finditer(text):
        length = _card_length(m.group())
        if not length:
            continue
        if _IBAN_HEAD.search(text, max(0, m.start() - 5), m.start()):
            continue  # the body of an IBAN-shaped string (one with a bad checksum)
        spans.append((m.start(), m.start() + length))
    return spans


@dataclass(kw_only=True)
class Params:
    keep_last: int = field(default=4, metadata={"help": "Digits left visible at the end."})
    mask_char: str = field(default="*", metadata={"help": "The character digits become."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 0 <= self.keep_last <= 4:
            errors["keep_last"] = ["must be between 0 and 4"]
        if len(self.mask_char) != 1 or self.mask_char.isdigit() or self.mask_char == "@":
            errors["mask_char"] = ["must be one character, not a digit or '@'"]
        return errors


class MaskCreditCard(PiiRule):
    name = "mask_credit_card"
    label = "Mask card numbers"
    help = "Masks Luhn-valid card numbers, keeping separators and the last four digits."
    pii_type = "credit_card"
    Params = Params
    find = staticmethod(find)

    def mask(self, match: str) -> str:
        n = sum(c.isdigit() for c in match)
        hide = n - self.params.keep_last
        out = []
        for c in match:
            if c.isdigit():
                out.append(self.params.mask_char if hide > 0 else c)
                hide -= 1
            else:
                out.append(c)
        return "".join(out)
