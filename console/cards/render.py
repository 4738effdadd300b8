"""The model card as Markdown (built line by line here) and as HTML (the Django template
templates/cards/card.html, autoescaped). Every value that a user could have typed (a
model's or run's name, a preset, a config value, an evaluation's params) goes through
``md_escape`` in Markdown: HTML-escaped, with Markdown's inline syntax backslashed and
on one line, so it can neither open a tag, a link or a table cell nor start a block."""

from __future__ import annotations

import html
import re
from typing import Any

from django.template.loader import render_to_string

_MD_INLINE = re.compile(r"([\\`*_\[\]|!~])")


def md_escape(value: Any) -> str:
    text = _MD_INLINE.sub(r"\\\1", str(value))
    return " ".join(html.escape(text, quote=False).split())


def _url(url: str) -> str:
    """A link target: spaces, parentheses and angle brackets percent-encoded."""
    return (
        url.replace(" ", "%20")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("<", "%3C")
        .replace(">", "%3E")
    )


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += [
        "| " + " | ".join(md_escape(c) if c is not None else "—" for c in r) + " |" for r in rows
    ]
    return [*out, ""]


def _pairs(rows: list[tuple[str, Any]], empty: str) -> list[str]:
    if not rows:
        return [f"_{empty}_", ""]
    return _table(["", "value"], [[k, v] for k, v in rows])


def card_markdown(card: dict[str, Any]) -> str:
    v = card["version"]
    lines = [
        f"# Model card: {md_escape(card['title'])}",
        "",
        f"Project {md_escape(v.project.name)} · status **{md_escape(v.get_status_display())}** · "
        f"kind {md_escape(v.kind)} · precision {md_escape(v.quant_method or v.precision)} · "
        f"[model page]({_url(card['url'])})",
        "",
        f"Generated at {card['generated_at'].isoformat()}.",
        "",
        "## Intended use",
        "",
        md_escape(card["intended_use"]),
        "",
        md_escape(card["lineage_summary"]),
        "",
        "## Data lineage",
        "",
    ]
    lines += [f"- [{md_escape(d['label'])}]({_url(d['url'])})" for d in card["data_links"]] or [
        "_No recorded lineage._"
    ]
    lines += ["", "## Training configuration", ""]
    lines += _pairs(card["training"], "No training run recorded.")
    lines += ["### Model shape", "", *_pairs(card["model_shape"], "Not recorded.")]
    lines += ["### Optimizer", "", *_pairs(card["optimizer"], "Not recorded.")]
    lines += ["### DeepSpeed", "", *_pairs(card["deepspeed"], "Not recorded.")]
    lines += ["## Metrics", ""]
    lines += _pairs(
        [(k, f"{m['value']:.4f} at step {m['step']}") for k, m in card["metrics"]],
        "No loss recorded for the training run.",
    )
    lines += ["### Measured", "", *_pairs(card["measured"], "Not measured yet.")]
    lines += ["## Evaluation results", ""]
    if card["evaluations"]:
        lines += _table(
            ["kind", "result", "parameters", "when"],
            [
                [e["kind"], e["summary"], e["params"], e["created_at"].isoformat()]
                for e in card["evaluations"]
            ],
        )
    else:
        lines += ["_No evaluation yet._", ""]
    lines += ["## User feedback", "", *_pairs(card["feedback"], "No rated answers yet.")]
    lines += ["## Quantized variants", ""]
    if card["variants"]:
        lines += _table(
            ["version", "method", "size (bytes)", "peak memory (bytes)", "tokens/s", "perplexity"],
            [
                [
                    f"{r['version']}{' (this card)' if r['current'] else ''}",
                    r["method"],
                    r["size_bytes"],
                    r["peak_memory_bytes"],
                    None if r["tokens_per_s"] is None else f"{r['tokens_per_s']:.1f}",
                    r["perplexity"],
                ]
                for r in card["variants"]
            ],
        )
    else:
        lines += ["_None._", ""]
    review = card["review"]
    lines += ["## Review", "", f"Outcome: **{md_escape(review['text'])}**", ""]
    if review["approvers"]:
        lines += ["Approved by: " + ", ".join(md_escape(a) for a in review["approvers"]), ""]
    lines += ["### Checklist", ""]
    if card["checklist"]:
        lines += _table(
            ["item", "check", "verdict", "result", "recorded by hand"],
            [
                [
                    r["title"] + ("" if r["required"] else " (optional)"),
                    r["check"] or None,
                    r["verdict"],
                    " ".join(x for x in (r["result"], f"({r['run']})" if r["run"] else "") if x)
                    or None,
                    _by_hand(r),
                ]
                for r in card["checklist"]
            ],
        )
    else:
        lines += ["_No checklist yet._", ""]
    if card["waived"]:
        lines += ["### Failed checks overridden by hand", ""]
        for r in card["waived"]:
            run = f" ({md_escape(r['waived']['run'])})" if r["waived"]["run"] else ""
            lines.append(
                f"- **{md_escape(r['title'])}**: the automated check ({md_escape(r['check'])}) "
                f"failed, {md_escape(r['waived']['result'])}{run}; "
                f"{md_escape(_by_hand(r))}"
            )
        lines.append("")
    lines += ["## Files", ""]
    lines += _table(
        ["path", "bytes", "sha256"], [[f["path"], f["bytes"], f["sha256"]] for f in card["files"]]
    )
    return "\n".join(lines)


def _by_hand(row: dict[str, Any]) -> str | None:
    """ "passed by rita at 2026-… UTC: the reason" for a result recorded by hand."""
    hand = row["by_hand"]
    if not hand:
        return None
    text = f"{row['verdict']} by {hand['by']}"
    if hand["at"]:
        text += f" at {hand['at']}"
    return text + (f": {hand['note']}" if hand["note"] else " (no reason given)")


def card_html(card: dict[str, Any]) -> str:
    """A standalone HTML document (inline styles, no scripts)."""
    return render_to_string("cards/card.html", {"card": card})
