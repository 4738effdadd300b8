"""A tokenizer's chat template: how a conversation becomes the text the model reads, and
which of its tokens the fine-tuning loss is computed on.

The template is a Jinja template in Hugging Face's convention, stored in the tokenizer's
folder as ``chat_template.jinja`` (what ``AutoTokenizer.from_pretrained`` reads, so
plain transformers, TRL and vLLM render conversations exactly as Forge does). The
assistant's content sits inside ``{% generation %} … {% endgeneration %}``: transformers'
``apply_chat_template(..., return_assistant_tokens_mask=True)`` marks those tokens,
and fine-tuning computes the loss on them only. A template that marks none is refused:
training on it would learn nothing, or everything.

``DEFAULT_TEMPLATE`` uses plain-text role markers (``<|user|>``) and the tokenizer's own
end-of-sequence token after each assistant turn, so it works with any Forge tokenizer
without new special tokens.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TEMPLATE_FILE = "chat_template.jinja"
MAX_TEMPLATE_CHARS = 20_000

DEFAULT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ message['content'] + '\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

SAMPLE_CONVERSATION = [
    {"role": "system", "content": "You answer questions about court procedure, briefly."},
    {"role": "user", "content": "How long do I have to appeal?"},
    {"role": "assistant", "content": "Usually 28 days from the date of the decision."},
    {"role": "user", "content": "And if I miss it?"},
    {"role": "assistant", "content": "Ask the court for an extension and give your reasons."},
]


class TemplateError(ValueError):
    """A chat template that cannot be used; the message says why, for the user."""


def read_template(tokenizer_dir: Path) -> str | None:
    path = Path(tokenizer_dir) / TEMPLATE_FILE
    return path.read_text("utf-8") if path.is_file() else None


def render_sample(
    tokenizer_dir: Path, template: str, conversation: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """``conversation`` (the sample by default) through ``template`` with the tokenizer
    in ``tokenizer_dir``: the rendered text, each token with whether the loss is
    computed on it, and the counts. TemplateError when it does not render or marks no
    assistant token."""
    from jinja2 import TemplateError as JinjaError
    from transformers import AutoTokenizer

    template = check_text(template)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    except (OSError, ValueError) as exc:
        raise TemplateError(f"The tokenizer's files cannot be read: {exc}") from None
    tokenizer.chat_template = template
    conversation = conversation or SAMPLE_CONVERSATION
    try:
        text = tokenizer.apply_chat_template(conversation, tokenize=False)
        encoded: Any = tokenizer.apply_chat_template(
            conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
    except (JinjaError, TypeError, ValueError, KeyError) as exc:
        raise TemplateError(
            f"The template does not render the sample conversation: {exc}"
        ) from None
    ids = list(encoded["input_ids"])
    mask = list(encoded["assistant_masks"])
    trained = sum(mask)
    if not trained:
        raise TemplateError(
            "The template marks no assistant token for the loss: wrap the assistant's "
            "content in {% generation %} … {% endgeneration %}."
        )
    tokens = [
        {"text": tokenizer.decode([token_id]), "trained": bool(flag)}
        for token_id, flag in zip(ids, mask, strict=True)
    ]
    return {"text": text, "tokens": tokens, "trained": trained, "masked": len(ids) - trained}


def check_text(template: Any) -> str:
    if not isinstance(template, str) or not template.strip():
        raise TemplateError("Give a template (Jinja, Hugging Face's chat template convention).")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            f"The template is {len(template):,} characters, over the limit of "
            f"{MAX_TEMPLATE_CHARS:,}."
        )
    if "\x00" in template:
        raise TemplateError("The template contains a NUL byte.")
    return template


def write_template(tokenizer_dir: Path, template: str) -> None:
    """Store ``template`` in the tokenizer's folder, atomically (readers see the old
    file or the new one)."""
    path = Path(tokenizer_dir) / TEMPLATE_FILE
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(template, "utf-8")
    os.replace(tmp, path)
