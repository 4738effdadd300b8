"""Mask IP addresses, IPv4 (dotted quad, each part 0-255) and IPv6 (validated by
``ipaddress``, including ``::`` forms and embedded IPv4). Version-like strings
glued to letters (``v1.2.3.4``) and five-part numbers are not addresses; a bare
``1.2.3.4`` in prose cannot be told from an address and is masked."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from console.data.engine.rules._pii import PiiRule, Span, TagParams, overlaps, replace_spans
from console.data.engine.rules.base import Counters

# Candidates; octets (0-255, no leading zeros) are checked by ipaddress.
_V4 = re.compile(r"[0-9](?<![0-9A-Za-z.][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z]|\.[0-9])")
_V6 = re.compile(
    r"[0-9A-Fa-f:](?<![0-9A-Za-z:.][0-9A-Fa-f:])"
    r"[0-9A-Fa-f]{0,3}(?::[0-9A-Fa-f]{0,4}){1,7}(?:(?<=:)(?:[0-9]{1,3}\.){3}[0-9]{1,3})?"
    r"(?![0-9A-Za-z:]|\.[0-9])"
)


def _v6(text: str) -> list[tuple[Span, ipaddress.IPv6Address]]:
    out = []
    for m in _V6.finditer(text):
        s = m.group()
        if s.count(":") < 2 or not any(c not in ":" for c in s):
            continue
        try:
            out.append((m.span(), ipaddress.IPv6Address(s)))
        except ValueError:
            continue
    return out


def find_addresses(text: str) -> list[tuple[Span, ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    found: list = []
    if "::" in text or text.count(":") >= 7:
        found += _v6(text)  # first: an IPv6 address may end in a dotted IPv4 part
    if "." in text:
        taken = [span for span, _ in found]
        for m in _V4.finditer(text):
            if overlaps(m.span(), taken):
                continue
            try:
                found.append((m.span(), ipaddress.IPv4Address(m.group())))
            except ValueError:  # an octet over 255 or with a leading zero
                continue
    found.sort()
    return found


def find(text: str) -> list[Span]:
    return [span for span, _ in find_addresses(text)]


@dataclass(kw_only=True)
class Params(TagParams):
    replacement: str = field(default="[IP]", metadata={"help": "What an address becomes."})
    mask_private: bool = field(
        default=True,
        metadata={"help": "Also mask private, loopback and reserved addresses (10.x, ::1...)."},
    )


class MaskIp(PiiRule):
    name = "mask_ip"
    label = "Mask IP addresses"
    help = "Replaces IPv4 and IPv6 addresses with a tag."
    pii_type = "ip"
    Params = Params
    find = staticmethod(find)

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        found = find_addresses(text)
        if not self.params.mask_private:
            found = [(s, a) for s, a in found if a.is_global]
        if not found:
            return text, {}
        return replace_spans(text, [s for s, _ in found], self.mask), {"hits": len(found)}
