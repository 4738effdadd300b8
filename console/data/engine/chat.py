"""Instruction and preference records: what fine-tuning reads, checked line by line.

Two record kinds, each one JSON object per line of a JSONL file:

* ``chat``: ``{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``,
  the layout of TRL's SFT trainer and of chat templates. Or, with a ``ChatMapping``,
  a prompt/response file (``{"question": ..., "answer": ...}``) whose columns the user
  names; each row becomes a system (optional), user, assistant conversation.
* ``preference``: ``{"prompt": str, "chosen": str, "rejected": str}``, the layout of
  TRL's DPO trainer.

The rules for a conversation: at most one system turn, and only first; then user and
assistant turns alternating, starting with the user; at least one assistant turn (the
loss is computed on assistant turns: a conversation without one teaches nothing). Every
content is a non-blank string. For a preference pair: three non-blank strings, and the
chosen answer differs from the rejected one. Extra keys are dropped; a record keeps only
what these layouts name.

Every error names the file and the line (and the turn), and reading stops at the first:
a file with one bad line makes no version. ``map_record`` runs the cleaning pipeline's
``map`` rules over every text of a record (PII masking applies to every turn); a rule
that drops any text drops the record.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.data.engine.readers import (
    InputError,
    ReadLimits,
    check_unicode,
    iter_jsonl_objects,
)
from console.data.engine.rules import pii_rules
from console.data.engine.rules.base import Counters, Rule

RECORD_KINDS = ("chat", "preference")
ROLES = ("system", "user", "assistant")
PREFERENCE_FIELDS = ("prompt", "chosen", "rejected")
MAX_TURNS = 512


@dataclass(frozen=True, kw_only=True)
class ChatMapping:
    """The columns of a prompt/response file that make a conversation."""

    prompt: str
    response: str
    system: str | None = None


def _string(value: Any, where: str, name: str, lineno: int, escapes: bool, limit: int) -> str:
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise InputError(f"{name}: line {lineno}: {where} is {kind}, not a string")
    if not value.strip():
        raise InputError(f"{name}: line {lineno}: {where} is blank")
    if escapes:
        check_unicode(value, name, lineno)
    if len(value) > limit:
        raise InputError(
            f"{name}: line {lineno}: {where} is {len(value):,} characters, over the limit "
            f"of {limit:,}"
        )
    return value


def chat_record(
    obj: dict[str, Any],
    *,
    name: str,
    lineno: int,
    mapping: ChatMapping | None = None,
    escapes: bool = False,
    limits: ReadLimits | None = None,
) -> dict[str, Any]:
    """The conversation in ``obj`` (one parsed line) as ``{"messages": [...]}``, or an
    InputError naming the line and what is wrong."""
    limit = (limits or ReadLimits()).max_doc_chars
    if mapping is not None:
        messages = []
        columns = [("system", mapping.system), ("user", mapping.prompt)]
        columns.append(("assistant", mapping.response))
        for column_role, column in columns:
            if column is None:
                continue
            if column not in obj:
                fields = ", ".join(list(obj)[:8]) or "none"
                raise InputError(
                    f'{name}: line {lineno} has no "{column}" field (the {column_role} column; '
                    f"its fields: {fields})"
                )
            messages.append({"role": column_role, "content": obj[column]})
    else:
        if "messages" not in obj:
            fields = ", ".join(list(obj)[:8]) or "none"
            raise InputError(
                f'{name}: line {lineno} has no "messages" field (its fields: {fields}); '
                "name the prompt and response columns for a prompt/response file"
            )
        messages = obj["messages"]
        if not isinstance(messages, list):
            kind = "null" if messages is None else type(messages).__name__
            raise InputError(f'{name}: line {lineno}: "messages" is {kind}, not a list')
    if len(messages) > MAX_TURNS:
        raise InputError(
            f"{name}: line {lineno}: {len(messages):,} turns, over the limit of {MAX_TURNS}"
        )
    turns: list[dict[str, str]] = []
    total = 0
    for i, turn in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(turn, dict):
            raise InputError(
                f"{name}: line {lineno}: {where} is a {type(turn).__name__}, not an object "
                'with "role" and "content"'
            )
        role = turn.get("role")
        if role not in ROLES:
            raise InputError(
                f"{name}: line {lineno}: {where}.role {role!r} is not one of {', '.join(ROLES)}"
            )
        content = _string(turn.get("content"), f"{where}.content", name, lineno, escapes, limit)
        expected = _expected_role(turns)
        if role == "system" and turns:
            raise InputError(
                f"{name}: line {lineno}: {where} is a system turn after the first turn; "
                "a conversation has at most one system turn, first"
            )
        if role != "system" and role != expected:
            raise InputError(
                f"{name}: line {lineno}: {where} is {_a(role)} turn where {_a(expected)} "
                "turn was due (user and assistant turns alternate, starting with the user)"
            )
        total += len(content)
        turns.append({"role": role, "content": content})
    if total > limit:
        raise InputError(
            f"{name}: line {lineno}: the conversation is {total:,} characters, over the "
            f"limit of {limit:,}"
        )
    if not any(t["role"] == "assistant" for t in turns):
        raise InputError(
            f"{name}: line {lineno} has no assistant turn: fine-tuning learns from the "
            "assistant's turns, so each conversation needs at least one"
        )
    return {"messages": turns}


def _a(role: str) -> str:
    return "an assistant" if role == "assistant" else f"a {role}"


def _expected_role(turns: list[dict[str, str]]) -> str:
    spoken = [t["role"] for t in turns if t["role"] != "system"]
    return "user" if not spoken or spoken[-1] == "assistant" else "assistant"


def preference_record(
    obj: dict[str, Any],
    *,
    name: str,
    lineno: int,
    escapes: bool = False,
    limits: ReadLimits | None = None,
) -> dict[str, str]:
    """The preference pair in ``obj`` as ``{"prompt", "chosen", "rejected"}``."""
    limit = (limits or ReadLimits()).max_doc_chars
    missing = [f for f in PREFERENCE_FIELDS if f not in obj]
    if missing:
        fields = ", ".join(list(obj)[:8]) or "none"
        raise InputError(
            f"{name}: line {lineno} has no {', '.join(repr(f) for f in missing)} "
            f"(a preference pair needs prompt, chosen and rejected; its fields: {fields})"
        )
    pair = {f: _string(obj[f], f'"{f}"', name, lineno, escapes, limit) for f in PREFERENCE_FIELDS}
    if pair["chosen"].strip() == pair["rejected"].strip():
        raise InputError(
            f"{name}: line {lineno}: chosen and rejected are the same answer: the pair "
            "teaches no preference"
        )
    return pair


def iter_records(
    path: Path,
    *,
    kind: str,
    mapping: ChatMapping | None = None,
    limits: ReadLimits | None = None,
    display_name: str | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Stream the records of a JSONL file of ``kind`` (``RECORD_KINDS``), each checked;
    InputError at the first bad line, and for a file with none."""
    if kind not in RECORD_KINDS:
        raise InputError(f"unknown record kind {kind!r}; one of {', '.join(RECORD_KINDS)}")
    if mapping is not None and kind != "chat":
        raise InputError("prompt/response columns map to chat records only")
    limits = limits or ReadLimits()
    name = display_name or Path(path).name
    wanted = 'with "messages"' if kind == "chat" and mapping is None else "(a record)"
    count = 0
    with open(path, "rb") as f:
        for lineno, obj, escapes in iter_jsonl_objects(f, name, limits, wanted=wanted):
            if kind == "chat":
                yield chat_record(
                    obj, name=name, lineno=lineno, mapping=mapping, escapes=escapes, limits=limits
                )
            else:
                yield preference_record(
                    obj, name=name, lineno=lineno, escapes=escapes, limits=limits
                )
            count += 1
    if count == 0:
        raise InputError(f"{name}: no records (the file is empty or every line is blank)")


def record_texts(record: dict[str, Any]) -> list[str]:
    """Every text of a record, in order (the turns' contents, or prompt, chosen,
    rejected): what statistics, language estimates and cleaning rules look at."""
    if "messages" in record:
        return [turn["content"] for turn in record["messages"]]
    return [record[f] for f in PREFERENCE_FIELDS]


def map_record(record: dict[str, Any], rules: list[Rule]) -> tuple[dict[str, Any] | None, Counters]:
    """``record`` with each ``map`` rule applied to every text, in order; None when a
    rule drops any of its texts (a conversation missing a turn is no conversation).
    Counters add up over the texts."""
    counters: Counters = {}
    texts = record_texts(record)
    for rule in rules:
        if rule.kind != "map":
            raise ValueError(f"{rule.name} is a {rule.kind} rule, not a map rule")
        out = []
        for text in texts:
            new, found = rule.apply(text, 0)
            for key, value in found.items():
                counters[key] = counters.get(key, 0) + value
            if new is None or not new.strip():
                return None, counters
            out.append(new)
        texts = out
    if "messages" in record:
        turns = [
            {"role": turn["role"], "content": text}
            for turn, text in zip(record["messages"], texts, strict=True)
        ]
        return {"messages": turns}, counters
    return dict(zip(PREFERENCE_FIELDS, texts, strict=True)), counters


def mask_record_pii(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """``record`` with the PII rules applied to every text (they mask, never drop), and
    the spans masked per PII type."""
    found: dict[str, int] = {}
    for rule in pii_rules():
        masked, counters = map_record(record, [rule])
        if masked is None:  # a PII rule leaves text behind; only a blanked turn drops
            raise ValueError(f"{rule.name} left a text of the record empty")
        record = masked
        if counters.get("hits") and rule.pii_type:
            found[rule.pii_type] = found.get(rule.pii_type, 0) + counters["hits"]
    return record, found
