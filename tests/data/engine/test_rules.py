# ruff: noqa: RUF001
"""Each cleaning rule on real examples, Chinese and other scripts included."""

from __future__ import annotations

import pytest

from console.data.engine.clean import PipelineError, build_rule, validate_pipeline


def rule(name: str, **params):
    return build_rule(validate_pipeline([{"rule": name, "params": params}])[0])


def apply(name: str, text: str, **params):
    return rule(name, **params).apply(text, 0)


# ------------------------------------------------------------------ remove_urls


def test_remove_urls_in_english_and_chinese():
    text = (
        "See https://en.wikipedia.org/wiki/Foo_(bar). Also (http://example.com/a?b=1&c=2), "
        "www.example.org, and ftp://files.example.net/x.\n"
        "访问https://example.cn/page了解更多。"
    )
    new, counts = apply("remove_urls", text)
    assert new == "See . Also (), , and .\n访问了解更多。"
    assert counts == {"urls": 5}


def test_remove_urls_replacement_and_untouched_text():
    new, counts = apply("remove_urls", "Docs: https://docs.example.com/x!", replacement="<URL>")
    assert (new, counts) == ("Docs: <URL>!", {"urls": 1})
    text = "No links here, only an e-mail: a@b.com and the domain example.com."
    assert apply("remove_urls", text) == (text, {})


# ------------------------------------------------------------------ normalize_whitespace


def test_normalize_whitespace_keeps_chinese():
    text = "  第一段：你好，　世界！  \r\n\r\n\r\n\r\n第二段\t\t内容\u00a0\u00a0结束。  "
    new, counts = apply("normalize_whitespace", text)
    assert new == "第一段：你好， 世界！\n\n第二段 内容 结束。"
    assert counts["chars_removed"] == len(text) - len(new)


def test_normalize_whitespace_options():
    text = "a\u3000b   c \n\n\n\nd\u2028e"
    assert apply("normalize_whitespace", text)[0] == "a b c\n\nd\ne"
    assert apply("normalize_whitespace", text, unicode_spaces=False)[0] == "a\u3000b c\n\nd\ne"
    assert apply("normalize_whitespace", text, max_newlines=1)[0] == "a b c\nd\ne"
    assert apply("normalize_whitespace", "x  \n  y", strip_lines=False)[0] == "x \n y"
    assert apply("normalize_whitespace", "clean text\n\nok") == ("clean text\n\nok", {})


# ------------------------------------------------------------------ drop_special_chars


def test_drop_special_chars_keeps_every_script():
    samples = [
        "中文文本，包括标点符号。《书名》——引号“你好”",
        "日本語のテキスト、カタカナとひらがな。",
        "한국어 문장입니다.",
        "نص عربي مع علامات التشكيل: كَتَبَ",
        "می\u200cخواهم",  # Persian needs ZWNJ
        "हिन्दी में लिखा गया पाठ",  # Devanagari combining marks
        "Ελληνικά, русский текст, עברית",
        "Math ∑ x² ≤ 5, price €12, 30°C, ½ cup",
        "tabs\tand\nnewlines stay",
    ]
    for text in samples:
        assert apply("drop_special_chars", text) == (text, {}), text


def test_drop_special_chars_removes_invisible_and_private_use():
    text = "中\u200b文\ufeff内容\u202e反转\u0007响铃\ue000私用\ufffd乱码\x00"
    new, counts = apply("drop_special_chars", text)
    assert new == "中文内容反转响铃私用乱码"
    assert counts == {"chars_removed": 7}


def test_drop_special_chars_emoji_optional():
    text = "好的👍🏽 ✂ ok ❤️ 1️⃣"
    assert apply("drop_special_chars", text)[0] == text
    assert apply("drop_special_chars", text, drop_symbols=True)[0] == "好的  ok  1"
    kept = apply("drop_special_chars", "a\u200bb", drop_format=False)[0]
    assert kept == "a\u200bb"


# ------------------------------------------------------------------ length_filter


def test_length_filter_counts_reading_length():
    # characters, not bytes; a CJK character counts 3 (tests/data/test_cjk_length.py)
    assert apply("length_filter", "短文本", min_chars=10) == (None, {"too_short": 1})
    assert apply("length_filter", "这是一个长一些的文本", min_chars=10) == (
        "这是一个长一些的文本",
        {},
    )
    assert apply("length_filter", "x" * 11, min_chars=0, max_chars=10) == (None, {"too_long": 1})


def test_length_filter_validation():
    with pytest.raises(PipelineError) as info:
        validate_pipeline([{"rule": "length_filter", "params": {"min_chars": 10, "max_chars": 5}}])
    assert info.value.errors == {"0": {"max_chars": ["must be at least min_chars"]}}


# ------------------------------------------------------------------ quality_filter


@pytest.mark.parametrize(
    "text",
    [
        "The court held that the statute applies to filings made after the effective date, "
        "and remanded the case for further proceedings consistent with this opinion.",
        "本院认为，被告的行为构成违约，应当承担相应的民事责任。原告的诉讼请求合法有据，"
        "本院予以支持。依照《中华人民共和国民法典》第五百七十七条之规定，判决如下。",
        "मरीज़ को दिन में दो बार दवा लेनी चाहिए और डॉक्टर से नियमित रूप से मिलना चाहिए।",
        "Der Patient erhält täglich 5 mg; die Dosis wird nach 14 Tagen überprüft (siehe Tab. 2).",
    ],
)
def test_quality_filter_keeps_prose(text):
    assert apply("quality_filter", text) == (text, {})


def test_quality_filter_drops_symbol_soup_and_boilerplate():
    junk = "|| ==== >>> ### ---- *** ||| <<< ~~~ ^^^ $$$ ok"
    assert apply("quality_filter", junk) == (None, {"symbol_ratio": 1})
    nav = "\n".join(["Home", "About us", "Contact", "Home", "About us", "Contact", "News"])
    assert apply("quality_filter", nav) == (None, {"repeated_lines": 1})
    chinese_nav = "首页\n关于我们\n首页\n关于我们\n首页\n联系我们"
    assert apply("quality_filter", chinese_nav) == (None, {"repeated_lines": 1})
    assert apply("quality_filter", nav, max_repeated_line_fraction=0.5)[0] == nav


# ------------------------------------------------------------------ validation


def test_params_are_validated_with_field_errors():
    steps = [
        {"rule": "remove_urls"},
        {"rule": "near_dedup", "params": {"threshold": 1.5, "num_perm": "many"}},
        {"rule": "no_such_rule"},
        {"rule": "mask_credit_card", "params": {"keep_last": 9, "colour": "red"}},
        "not a step",
        {"rule": "length_filter", "extra": 1},
    ]
    with pytest.raises(PipelineError) as info:
        validate_pipeline(steps)
    errors = info.value.errors
    assert set(errors) == {"1", "2", "3", "4", "5"}
    assert errors["1"] == {"num_perm": ["must be int"]}
    assert "unknown rule 'no_such_rule'" in errors["2"]["rule"][0]
    assert errors["3"] == {"colour": ["unknown field"]}
    assert errors["4"] == {"step": ["must be an object with 'rule' and 'params'"]}
    assert errors["5"] == {"extra": ["unknown field"]}
    with pytest.raises(PipelineError) as info:
        validate_pipeline([{"rule": "near_dedup", "params": {"threshold": 1.5}}])
    assert info.value.errors == {"0": {"threshold": ["must be between 0.1 and 0.99"]}}


def test_pipeline_level_errors():
    with pytest.raises(PipelineError) as info:
        validate_pipeline([])
    assert info.value.errors == {"pipeline": {"steps": ["add at least one rule"]}}
    with pytest.raises(PipelineError):
        validate_pipeline({"rule": "remove_urls"})


def test_validation_fills_defaults():
    (step,) = validate_pipeline([{"rule": "length_filter", "params": {"min_chars": 10}}])
    assert step == {"rule": "length_filter", "params": {"min_chars": 10, "max_chars": 1_000_000}}
