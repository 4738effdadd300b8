"""Greedy decoding of an exported ONNX folder with onnxruntime alone.

This file imports only onnxruntime, numpy, tokenizers and the standard library
(json, pathlib, sys): no torch, no transformers, nothing else of Forge. The
export copies it into the ONNX folder as ``run_onnx.py``, so a folder can be run
where Forge is not installed:

    python run_onnx.py /path/to/onnx-folder "Once upon a time" 32

The folder holds ``model.onnx`` (one decoder graph with a KV cache, for prefill
and decode alike), ``onnx_io.json`` (its inputs and outputs, see
gpu_agent.models.onnx_export) and ``tokenizer.json``. One prompt at a time
(batch 1); the graph itself takes batches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

GRAPH = "model.onnx"
IO_FILE = "onnx_io.json"
TOKENIZER = "tokenizer.json"


class OnnxDecoder:
    """The folder's graph in an onnxruntime session, with its KV-cache layout."""

    def __init__(self, folder: str | Path, providers: list[str] | None = None):
        self.folder = Path(folder)
        self.io = json.loads((self.folder / IO_FILE).read_text("utf-8"))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(
            str(self.folder / GRAPH),
            sess_options=options,
            providers=providers or ["CPUExecutionProvider"],
        )
        self.output_names = [out.name for out in self.session.get_outputs()]
        self.eos_ids = set(self.io.get("eos_token_ids") or [])

    def empty_cache(self, batch: int = 1) -> dict[str, np.ndarray]:
        """past_key_values.* of length 0: the prefill's cache."""
        shape = (batch, self.io["num_kv_heads"], 0, self.io["head_dim"])
        return {name: np.zeros(shape, np.float32) for name in self.io["past_names"]}

    def step(
        self, input_ids: np.ndarray, past: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One call of the graph: (logits [batch, seq, vocab], the next call's past)."""
        batch, seq = input_ids.shape
        done = next(iter(past.values())).shape[2]
        feeds = {
            "input_ids": input_ids.astype(np.int64),
            "attention_mask": np.ones((batch, done + seq), np.int64),
            "position_ids": np.tile(np.arange(done, done + seq, dtype=np.int64), (batch, 1)),
            **past,
        }
        outputs = dict(zip(self.output_names, self.session.run(None, feeds), strict=True))
        present = {
            past_name: outputs[present_name]
            for past_name, present_name in zip(
                self.io["past_names"], self.io["present_names"], strict=True
            )
        }
        return outputs["logits"], present

    def greedy(self, prompt_ids: list[int], max_new_tokens: int) -> dict:
        """Greedy decoding with the KV cache: the prompt in one call, then one token
        per call. Stops after an end-of-sequence token (kept, as transformers does).

        Returns {"tokens", "prefill_logits" [prompt, vocab], "step_logits" (the
        logits each token was chosen from; the first is the prefill's last row)}.
        """
        if not prompt_ids:
            raise ValueError("prompt_ids is empty")
        logits, past = self.step(np.array([prompt_ids], np.int64), self.empty_cache())
        prefill = logits[0]
        row = prefill[-1]
        tokens: list[int] = []
        steps = []
        while True:
            steps.append(row)
            token = int(np.argmax(row))
            tokens.append(token)
            if token in self.eos_ids or len(tokens) >= max_new_tokens:
                break
            logits, past = self.step(np.array([[token]], np.int64), past)
            row = logits[0, -1]
        return {"tokens": tokens, "prefill_logits": prefill, "step_logits": steps}


def start_ids(io: dict) -> list[int]:
    """What an empty prompt starts from: the beginning-of-sequence token (or 0)."""
    start = io.get("bos_token_id")
    return [start if start is not None else 0]


def load_tokenizer(folder: str | Path) -> Tokenizer:
    return Tokenizer.from_file(str(Path(folder) / TOKENIZER))


def onnx_generate(
    folder: str | Path,
    prompt: str,
    max_new_tokens: int = 32,
    *,
    providers: list[str] | None = None,
) -> dict:
    """Greedy continuation of prompt: {"prompt", "prompt_ids", "tokens", "text"}."""
    decoder = OnnxDecoder(folder, providers)
    tokenizer = load_tokenizer(folder)
    ids = tokenizer.encode(prompt).ids or start_ids(decoder.io)
    out = decoder.greedy(ids, max_new_tokens)
    return {
        "prompt": prompt,
        "prompt_ids": ids,
        "tokens": out["tokens"],
        "text": tokenizer.decode(out["tokens"], skip_special_tokens=True),
    }


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(f"usage: python {Path(sys.argv[0]).name} FOLDER PROMPT [MAX_NEW_TOKENS]")
    result = onnx_generate(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 32)
    print(result["text"])
