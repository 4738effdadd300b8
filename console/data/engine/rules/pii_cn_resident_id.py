"""Mask Chinese resident identity card numbers (居民身份证号码, GB 11643-1999):
18 characters, a province code, a real birth date, and the ISO 7064 MOD 11-2
check character (0-9 or X). The old 15-digit numbers (no checksum) are not
masked: without a checksum they cannot be told from other numbers."""

from __future__ import annotations

import datetime as dt
import re

from console.data.engine.rules._pii import PiiRule, Span, tag_params

_ID = re.compile(r"[1-9](?<![0-9A-Za-z][1-9])[0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)


def valid(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    if int(number[:2]) not in _PROVINCES:
        return False
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not dt.date(1900, 1, 1) <= born <= dt.date.today():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == number[17].upper()


def find(text: str) -> list[Span]:
    return [m.span() for m in _ID.finditer(text) if valid(m.group())]


Params = tag_params("[CN_ID]")


class MaskCnResidentId(PiiRule):
    name = "mask_cn_resident_id"
    label = "Mask Chinese resident ID numbers"
    help = "Replaces 18-digit resident ID numbers with a valid checksum and birth date."
    pii_type = "cn_resident_id"
    Params = Params
    find = staticmethod(find)
