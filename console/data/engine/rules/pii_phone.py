"""Mask telephone numbers. Numbers are only masked when their shape says phone:

* international: ``+`` and 8-15 digits (``+44 20 7946 0958``, ``+8613800138000``),
  or ``00`` and a country code, grouped (``0044 20 7946 0958``);
* Chinese mobile: 11 digits ``1[3-9]...``, plain or grouped 3-4-4 / 3-8;
* North American: 3-3-4 with separators (``(555) 123-4567``, ``555.123.4567``);
* national with a trunk ``0``, grouped, 9-12 digits (``010-12345678``,
  ``020 7946 0958``, ``01 23 45 67 89``).

Everything else stays: dates (``2024-03-15``, ``15.03.2024``), times, plain order
or invoice numbers, ISBNs, prices, and numbers that another PII rule recognises
(a Luhn-valid card, an IBAN, a resident ID, an IP address) whatever the order of
the rules. A run of numbers separated by spaces is read left to right, longest
phone first, so two phone numbers in a row are two hits.
"""

from __future__ import annotations

import re

from console.data.engine.rules import pii_cn_resident_id, pii_credit_card, pii_iban, pii_ip
from console.data.engine.rules._pii import PiiRule, Span, overlaps, tag_params

# Starts at "+", "(" or a digit that no word, number, URL or address precedes.
_CANDIDATE = re.compile(
    r"[+(0-9](?<![0-9A-Za-z+@/=&._\-(][+(0-9])"
    r"(?:(?<=\()\+|(?<=\+)\(|)"
    r"(?:(?<=[+(])[0-9]|(?<=[0-9]))"
    r"(?:[0-9\u00a0 .\-()]{0,24}[0-9])?"
    r"(?![0-9A-Za-z@]|[\-.][0-9])"
)
_GROUPS = re.compile(r"[0-9]+")
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")


def is_phone(s: str) -> bool:
    groups = _GROUPS.findall(s)
    digits = "".join(groups)
    n = len(digits)
    if not 7 <= n <= 15 or "  " in s:
        return False
    sizes = [len(g) for g in groups]
    if s.startswith(("+", "(+")):
        return n >= 8
    if digits.startswith("00") and digits[2] != "0":
        return n >= 10 and len(groups) >= 2
    if _CN_MOBILE.fullmatch(digits):
        return sizes in ([11], [3, 4, 4], [3, 8])
    if sizes == [3, 3, 4] and digits[0] in "23456789":
        return True
    if sizes == [1, 3, 3, 4] and digits[0] == "1" and digits[1] in "23456789":
        return True
    if digits[0] == "0" and digits[1] != "0" and 9 <= n <= 12 and len(groups) >= 2:
        return min(sizes) >= 2
    return False


def _phones_in(candidate: str) -> list[Span]:
    """Phone spans inside one candidate run, relative to it. A phone may start only
    where the run starts or right after another phone, so the tail of some longer
    number (an account number, say) is never taken for one."""
    if is_phone(candidate):
        return [(0, len(candidate))]
    pieces = [m.span() for m in re.finditer(r"\S+", candidate)]
    found: list[Span] = []
    i = 0
    while i < len(pieces):
        for j in range(len(pieces) - 1, i - 1, -1):
            start, end = pieces[i][0], pieces[j][1]
            if is_phone(candidate[start:end]):
                found.append((start, end))
                i = j + 1
                break
        else:
            break
    return found


def find(text: str) -> list[Span]:
    spans = []
    for m in _CANDIDATE.finditer(text):
        base = m.start()
        spans += [(base + a, base + b) for a, b in _phones_in(m.group())]
    if not spans:
        return []
    others = (
        pii_credit_card.find(text)
        + pii_iban.find(text)
        + pii_cn_resident_id.find(text)
        + pii_ip.find(text)
    )
    return [span for span in spans if not overlaps(span, others)]


Params = tag_params("[PHONE]")


class MaskPhone(PiiRule):
    name = "mask_phone"
    label = "Mask phone numbers"
    help = "Replaces international, Chinese, North American and trunk-0 phone numbers."
    pii_type = "phone"
    Params = Params
    find = staticmethod(find)
