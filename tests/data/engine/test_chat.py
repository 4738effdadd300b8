"""Chat and preference records: valid files stream as normalized records; every bad
line is refused with its line number and the reason; the cleaning rules' map step
masks PII in every turn."""

from __future__ import annotations

import json

import pytest

from console.data.engine.chat import ChatMapping, iter_records, map_record, record_texts
from console.data.engine.readers import InputError, ReadLimits
from console.data.engine.rules import RULES

SYSTEM = {"role": "system", "content": "You are a careful legal assistant."}
USER = {"role": "user", "content": "Summarise the ruling."}
ASSISTANT = {"role": "assistant", "content": "The appeal was dismissed."}


def write(tmp_path, rows, name="data.jsonl"):
    path = tmp_path / name
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_chat_records_stream_normalized(tmp_path):
    path = write(
        tmp_path,
        [
            {"messages": [SYSTEM, USER, ASSISTANT], "source": "kept out"},
            "",
            {"messages": [USER, ASSISTANT, {**USER, "content": "And costs?"},
                          {**ASSISTANT, "content": "Each side bears its own.", "name": "x"}]},
        ],
    )  # fmt: skip
    records = list(iter_records(path, kind="chat"))
    assert records[0] == {"messages": [SYSTEM, USER, ASSISTANT]}
    assert [t["role"] for t in records[1]["messages"]] == ["user", "assistant"] * 2
    assert records[1]["messages"][3] == {"role": "assistant", "content": "Each side bears its own."}


def test_prompt_response_columns_map_to_a_conversation(tmp_path):
    path = write(tmp_path, [{"q": "Hi?", "a": "Hello.", "sys": "Be brief."}])
    mapping = ChatMapping(prompt="q", response="a", system="sys")
    (record,) = iter_records(path, kind="chat", mapping=mapping)
    assert record == {"messages": [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "Hi?"},
                                   {"role": "assistant", "content": "Hello."}]}  # fmt: skip
    missing = write(tmp_path, [{"q": "Hi?", "answer": "Hello."}], "missing.jsonl")
    with pytest.raises(InputError, match=r'line 1 has no "a" field \(the assistant column'):
        list(iter_records(missing, kind="chat", mapping=ChatMapping(prompt="q", response="a")))


def test_preference_pairs(tmp_path):
    path = write(tmp_path, [{"prompt": "P", "chosen": "Good.", "rejected": "Bad.", "id": 3}])
    assert list(iter_records(path, kind="preference")) == [
        {"prompt": "P", "chosen": "Good.", "rejected": "Bad."}
    ]


GOOD = {"messages": [USER, ASSISTANT]}


@pytest.mark.parametrize(
    ("kind", "bad", "message"),
    [
        ("chat", {"text": "plain"}, 'line 2 has no "messages" field (its fields: text)'),
        ("chat", {"messages": "hi"}, 'line 2: "messages" is str, not a list'),
        ("chat", {"messages": [USER]}, "line 2 has no assistant turn"),
        ("chat", {"messages": [{"role": "bot", "content": "x"}, ASSISTANT]},
         "line 2: messages[0].role 'bot' is not one of system, user, assistant"),
        ("chat", {"messages": [USER, {"role": "assistant"}]},
         "line 2: messages[1].content is null, not a string"),
        ("chat", {"messages": [USER, {**ASSISTANT, "content": "  "}]},
         "line 2: messages[1].content is blank"),
        ("chat", {"messages": [ASSISTANT, USER]},
         "line 2: messages[0] is an assistant turn where a user turn was due"),
        ("chat", {"messages": [USER, USER, ASSISTANT]},
         "line 2: messages[1] is a user turn where an assistant turn was due"),
        ("chat", {"messages": [USER, SYSTEM, ASSISTANT]},
         "line 2: messages[1] is a system turn after the first turn"),
        ("chat", {"messages": [USER, ["assistant", "x"]]},
         "line 2: messages[1] is a list, not an object"),
        ("chat", {"messages": [USER, {**ASSISTANT, "content": "x" * 101}]},
         "line 2: messages[1].content is 101 characters, over the limit of 100"),
        ("chat", ["not", "an", "object"], 'line 2 is a JSON list, not an object with "messages"'),
        ("chat", '{"messages": [', "line 2 is not valid JSON"),
        ("chat", '{"messages": [{"role": "user", "content": "\\udc80"}, '
                 '{"role": "assistant", "content": "x"}]}', "line 2: the text contains an "
                                                             "unpaired UTF-16 surrogate"),
        ("preference", {"prompt": "P", "chosen": "A"}, "line 2 has no 'rejected'"),
        ("preference", {"prompt": "P", "chosen": "Same.", "rejected": " Same. "},
         "line 2: chosen and rejected are the same answer"),
        ("preference", {"prompt": 3, "chosen": "A", "rejected": "B"},
         'line 2: "prompt" is int, not a string'),
    ],
)  # fmt: skip
def test_a_bad_line_is_refused_with_its_number_and_reason(tmp_path, kind, bad, message):
    good = GOOD if kind == "chat" else {"prompt": "P", "chosen": "A", "rejected": "B"}
    path = write(tmp_path, [good, bad, good])
    with pytest.raises(InputError) as refused:
        list(iter_records(path, kind=kind, limits=ReadLimits(max_doc_chars=100)))
    assert str(refused.value).startswith("data.jsonl: "), refused.value
    assert message in str(refused.value), refused.value


def test_files_that_make_no_records(tmp_path):
    with pytest.raises(InputError, match="no records"):
        list(iter_records(write(tmp_path, ["", "  "]), kind="chat"))
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(InputError, match="NUL byte"):
        list(iter_records(binary, kind="chat"))
    with pytest.raises(InputError, match="unknown record kind"):
        list(iter_records(binary, kind="text"))
    with pytest.raises(InputError, match="chat records only"):
        list(iter_records(binary, kind="preference", mapping=ChatMapping(prompt="p", response="r")))


def rules(*names):
    return [RULES[n](RULES[n].Params()) for n in names]


def test_pii_masking_applies_to_every_turn():
    record = {"messages": [
        {"role": "system", "content": "Escalate to ops@example.com."},
        {"role": "user", "content": "My card is 4111 1111 1111 1111, call +44 20 7946 0958"},
        {"role": "assistant", "content": "Noted; write to billing@example.com."},
    ]}  # fmt: skip
    masked, counters = map_record(record, rules("mask_email", "mask_credit_card", "mask_phone"))
    texts = " ".join(record_texts(masked))
    assert "@example.com" not in texts and "4111 1111 1111 1111" not in texts
    assert "7946" not in texts and counters["hits"] == 4
    assert [t["role"] for t in masked["messages"]] == ["system", "user", "assistant"]
    pair = {"prompt": "Mail a@b.org", "chosen": "Sure.", "rejected": "Mail c@d.org yourself"}
    masked_pair, _ = map_record(pair, rules("mask_email"))
    assert "@" not in "".join(masked_pair.values()) and masked_pair["chosen"] == "Sure."


def test_a_rule_that_empties_a_turn_drops_the_record():
    record = {"messages": [USER, {"role": "assistant", "content": "https://example.com/x"}]}
    dropped, _ = map_record(record, rules("remove_urls"))
    assert dropped is None
    with pytest.raises(ValueError, match="not a map rule"):
        map_record(record, rules("exact_dedup"))
