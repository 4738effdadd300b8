"""Forge's decode loop: a static KV cache and, on a GPU, the one-token step compiled
whole (torch.compile with CUDA graphs), the way gpt-fast and the serving engines run
decode. The playground, evaluation and measurement all generate through it.

Why not ``model.generate``: transformers' loop runs its logits processors, stopping
criteria and cache bookkeeping in Python between steps, so a batch-1 decode of a small
model waits on the CPU, not on the weights' memory traffic, and a quantized model
(fewer bytes per weight) decodes no faster than bf16. Here one step is one CUDA graph
replay; what is left in Python per token is choosing the next token.

Compiled, Inductor's coordinate-descent tuning is on: with it a matrix-vector product
(batch-1 decode) becomes one fused reduction kernel that reads the stored weights
directly, so an int8 weight (``kernels.Int8Linear``) is read as 8 bits, not converted
to 16 bits first.

On CPU the same loop runs eagerly (no compilation): the tests check it against
``model.generate`` token for token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

MIN_CACHE = 256  # cache lengths are powers of two from here: few distinct compilations


@dataclass(frozen=True)
class Sampling:
    """temperature 0 = greedy; repetition_penalty as transformers applies it (a seen
    token's logit divided by it when positive, multiplied when negative)."""

    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0


GREEDY = Sampling()


def cache_length(needed: int, limit: int | None) -> int:
    length = max(MIN_CACHE, 1 << max(needed - 1, 0).bit_length())
    if limit is not None and needed <= limit:
        length = min(length, limit)
    return length


def choose(logits: torch.Tensor, seen: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Next token per row of ``logits`` (batch, vocab), given the ids so far ``seen``."""
    scores = logits.float()
    if sampling.repetition_penalty != 1.0:
        picked = scores.gather(1, seen)
        picked = torch.where(
            picked < 0, picked * sampling.repetition_penalty, picked / sampling.repetition_penalty
        )
        scores = scores.scatter(1, seen, picked)
    if sampling.temperature == 0:
        return scores.argmax(dim=-1, keepdim=True)
    scores = scores / sampling.temperature
    if sampling.top_p < 1.0:
        ordered, order = scores.sort(dim=-1, descending=True)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative - ordered.softmax(dim=-1) >= sampling.top_p  # keeps the first
        ordered = ordered.masked_fill(drop, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(1, order, ordered)
    return torch.multinomial(F.softmax(scores, dim=-1), num_samples=1)


class Decoder:
    """Decodes with one model. Not thread-safe across calls (one static cache per
    batch size and length): a lock serialises them."""

    def __init__(self, model, *, compile: bool | None = None) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.compiled = (self.device.type == "cuda") if compile is None else compile
        self._caches: dict[tuple[int, int], Any] = {}  # transformers StaticCache
        self._lock = threading.Lock()
        step = self._one_token
        if self.compiled:
            import torch._inductor.config as inductor

            inductor.coordinate_descent_tuning = True  # matrix-vector as a fused reduction
            step = torch.compile(step, mode="reduce-overhead", fullgraph=True)
        self._step = step

    def _one_token(self, ids: torch.Tensor, position: torch.Tensor, cache) -> torch.Tensor:
        out = self.model(input_ids=ids, cache_position=position, past_key_values=cache)
        return out.logits[:, -1, :]

    def _cache(self, batch: int, length: int):
        from transformers import StaticCache

        key = (batch, length)
        cache = self._caches.get(key)
        if cache is None:
            cache = StaticCache(config=self.model.config, max_cache_len=length)
            self._caches[key] = cache
        else:
            cache.reset()
        return cache

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        *,
        new_tokens: int,
        sampling: Sampling = GREEDY,
        eos_id: int | None = None,
    ) -> torch.Tensor:
        """``ids`` (batch, prompt) of equal-length prompts -> (batch, prompt + n) with
        n <= new_tokens: exactly new_tokens when ``eos_id`` is None, else it stops once
        every row has produced eos_id (rows that finished early continue with eos_id)."""
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError("ids must be (batch, prompt) with at least one prompt token")
        if new_tokens < 1:
            raise ValueError(f"new_tokens must be >= 1, got {new_tokens}")
        batch, prompt = ids.shape
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if limit is not None and prompt + new_tokens > limit:
            raise ValueError(
                f"prompt ({prompt}) + new tokens ({new_tokens}) exceed the model's "
                f"{limit} positions"
            )
        ids = ids.to(self.device)
        with self._lock:
            cache = self._cache(batch, cache_length(prompt + new_tokens, limit))
            # Prefill runs eagerly: prompts vary in length, the step does not.
            out = self.model(
                input_ids=ids,
                cache_position=torch.arange(prompt, device=self.device),
                past_key_values=cache,
            )
            seen = ids
            token = choose(out.logits[:, -1, :], seen, sampling)
            done = torch.zeros(batch, 1, dtype=torch.bool, device=self.device)
            for n in range(new_tokens):
                if eos_id is not None:
                    token = torch.where(done, torch.full_like(token, eos_id), token)
                    done = done | (token == eos_id)
                seen = torch.cat([seen, token], dim=1)
                if n == new_tokens - 1 or (eos_id is not None and bool(done.all())):
                    break
                position = torch.tensor([prompt + n], device=self.device)
                if self.compiled:
                    torch.compiler.cudagraph_mark_step_begin()
                logits = self._step(token, position, cache)
                token = choose(logits, seen, sampling)
            return seen


def decoder_of(model) -> Decoder:
    """The model's Decoder, made once (its compiled step and caches are reused)."""
    decoder = getattr(model, "_forge_decoder", None)
    if decoder is None:
        decoder = Decoder(model)
        model._forge_decoder = decoder
    return decoder
