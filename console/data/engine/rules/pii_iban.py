"""Mask IBANs: a country code with its registered length (ISO 13616), written
compact or in groups separated by single spaces, and a valid MOD 97 checksum.
An IBAN whose checksum fails is left as it is."""

from __future__ import annotations

import re

from console.data.engine.rules._pii import PiiRule, Span, tag_params

# Lengths from the SWIFT IBAN registry.
LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_START = re.compile(r"([A-Z](?<![A-Za-z0-9][A-Z])[A-Z])[0-9]{2}")


def checksum_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    digits = "".join(str(int(c, 36)) for c in moved)
    return int(digits) % 97 == 1


def _alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _extent(text: str, start: int, length: int) -> int | None:
    """End of an IBAN of ``length`` characters starting at ``start`` (single spaces
    allowed between characters), or None."""
    n = 0
    i = start
    while i < len(text) and n < length:
        c = text[i]
        if c.isascii() and c.isalnum():
            n += 1
            i += 1
        elif c == " " and n and i + 1 < len(text) and _alnum(text[i + 1]):
            i += 1
        else:
            return None
    if n < length or (i < len(text) and text[i].isascii() and text[i].isalnum()):
        return None
    return i


def find(text: str) -> list[Span]:
    spans = []
    for m in _START.finditer(text):
        length = LENGTHS.get(m.group(1))
        if length is None or (spans and m.start() < spans[-1][1]):
            continue
        end = _extent(text, m.start(), length)
        if end is None:
            continue
        compact = text[m.start() : end].replace(" ", "").upper()
        if checksum_ok(compact):
            spans.append((m.start(), end))
    return spans


Params = tag_params("[IBAN]")


class MaskIban(PiiRule):
    name = "mask_iban"
    label = "Mask IBANs"
    help = "Replaces IBANs with a valid checksum with a tag."
    pii_type = "iban"
    Params = Params
    find = staticmethod(find)
