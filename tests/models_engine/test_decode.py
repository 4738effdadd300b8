"""Forge's decode loop (gpu_agent.models.decode), run eagerly on CPU: the same tokens as
transformers' generate for greedy decoding with and without a repetition penalty,
batches of several prompts, early stop at the end-of-sequence token, and refusals.
(On a GPU the same step is compiled with CUDA graphs: bench/decode.py.)"""

from __future__ import annotations

import pytest
import torch

from gpu_agent.models.decode import MIN_CACHE, Decoder, Sampling, cache_length, choose
from tests.models_engine.conftest import random_llama


@pytest.fixture(scope="module")
def model():
    return random_llama(
        hidden_size=64, intermediate_size=128, num_attention_heads=4, max_position_embeddings=512
    )


def _hf(model, ids, new_tokens, **kwargs):
    return model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        max_new_tokens=new_tokens,
        pad_token_id=0,
        **kwargs,
    )


def _greedy_everywhere(model, out, prompt, penalty=1.0, tol=1e-4):
    """Each new token of ``out`` is the argmax (within float noise) of the logits the
    whole sequence gets in one forward pass without a cache, with the penalty applied
    over the tokens before it. Ties broken either way are accepted; anything else is
    not greedy decoding."""
    with torch.no_grad():
        logits = model(input_ids=out).logits.float()
    for row in range(out.shape[0]):
        for pos in range(prompt, out.shape[1]):
            scores = logits[row, pos - 1].clone()
            if penalty != 1.0:
                seen = out[row, :pos].unique()
                picked = scores[seen]
                scores[seen] = torch.where(picked < 0, picked * penalty, picked / penalty)
            chosen = int(out[row, pos])
            assert scores[chosen] >= scores.max() - tol, (row, pos, chosen, int(scores.argmax()))


def test_greedy_decoding_is_greedy_and_matches_transformers(model):
    ids = torch.randint(0, 128, (3, 10), generator=torch.Generator().manual_seed(1))
    decoder = Decoder(model)
    assert not decoder.compiled  # CPU: eager
    ours = decoder.generate(ids, new_tokens=20)
    assert ours.shape == (3, 30) and torch.equal(ours[:, :10], ids)
    _greedy_everywhere(model, ours, 10)
    # transformers' generate agrees until a near-tie (random tiny weights have some).
    hf = _hf(model, ids, 20, min_new_tokens=20)
    assert torch.equal(ours[:, :14], hf[:, :14])
    # Again with the same cache (reset between calls): the same tokens.
    assert torch.equal(decoder.generate(ids, new_tokens=20), ours)
    penalised = decoder.generate(ids[:1], new_tokens=20, sampling=Sampling(repetition_penalty=1.3))
    _greedy_everywhere(model, penalised, 10, penalty=1.3)
    assert not torch.equal(penalised, ours[:1])


def test_stops_at_end_of_sequence_and_pads_finished_rows(model):
    ids = torch.randint(0, 128, (2, 6), generator=torch.Generator().manual_seed(2))
    decoder = Decoder(model)
    free = decoder.generate(ids, new_tokens=12)
    eos = int(free[0, 6 + 2])  # row 0's third new token
    out = decoder.generate(ids, new_tokens=12, eos_id=eos)
    new = out[:, 6:]
    assert int(new[0, 2]) == eos and (new[0, 2:] == eos).all()
    assert torch.equal(new[:, :3], free[:, 6:9])


def test_sampling_follows_the_seed_and_top_p(model):
    ids = torch.randint(0, 128, (1, 8), generator=torch.Generator().manual_seed(3))
    decoder = Decoder(model)
    sampling = Sampling(temperature=0.9, top_p=0.8)
    torch.manual_seed(5)
    a = decoder.generate(ids, new_tokens=10, sampling=sampling)
    torch.manual_seed(5)
    assert torch.equal(decoder.generate(ids, new_tokens=10, sampling=sampling), a)
    # top_p this small keeps only the most likely token: greedy.
    tiny = Sampling(temperature=1.0, top_p=1e-6)
    logits = torch.randn(4, 128, generator=torch.Generator().manual_seed(4))
    seen = torch.zeros(4, 1, dtype=torch.long)
    assert torch.equal(choose(logits, seen, tiny), logits.argmax(-1, keepdim=True))


def test_cache_lengths_and_refusals(model):
    assert cache_length(10, 512) == MIN_CACHE
    assert cache_length(300, 512) == 512
    assert cache_length(300, 400) == 400
    decoder = Decoder(model)
    with pytest.raises(ValueError, match="exceed the model's 512 positions"):
        decoder.generate(torch.zeros(1, 500, dtype=torch.long), new_tokens=20)
    with pytest.raises(ValueError, match="at least one prompt token"):
        decoder.generate(torch.zeros(1, 0, dtype=torch.long), new_tokens=2)
    with pytest.raises(ValueError, match="new_tokens must be >= 1"):
        decoder.generate(torch.zeros(1, 3, dtype=torch.long), new_tokens=0)
