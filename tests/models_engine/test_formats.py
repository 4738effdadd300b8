"""Quantized versions in compressed-tensors (llm-compressor's format): every format
Forge writes opens with plain transformers, in a fresh interpreter that never imports
Forge, with no missing or unexpected weights and the same perplexity Forge measures;
bad requests are refused and leave nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors import safe_open

from gpu_agent.data import PackedShards
from gpu_agent.models import generate, load_model, perplexity
from gpu_agent.models.folder import LEGACY_QUANT_KEY, ModelFolderError
from gpu_agent.models.quantize import METHODS, describe, quantize
from tests.models_engine.conftest import INT4_GROUP, RECIPES

pytestmark = [pytest.mark.slow]
SEQS = 16  # validation sequences scored
QUANTIZED = [name for name, recipe in RECIPES.items() if METHODS[recipe["method"]] < 16]

# Run by a fresh `python -I`: only transformers (and compressed-tensors, which
# transformers imports for this format); proves the folders need nothing of Forge. One
# interpreter opens every folder in turn (each start costs a minute on a loaded CI).
PLAIN = textwrap.dedent(
    """
    import json, sys
    import torch
    from transformers import AutoModelForCausalLM
    batch = json.load(open(sys.argv[1]))
    ids = torch.tensor(batch["input_ids"])
    labels = torch.tensor(batch["labels"])
    out = {}
    for folder in sys.argv[2:]:
        model, info = AutoModelForCausalLM.from_pretrained(
            folder, dtype=torch.float32, output_loading_info=True
        )
        model.eval()
        with torch.no_grad():
            mask = torch.tensor(batch["attention_mask"])
            logits = model(input_ids=ids, attention_mask=mask).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
            ignore_index=-100, reduction="sum",
        )
        count = int((labels[:, 1:] != -100).sum())
        out[folder] = {
            "info": {k: sorted(map(str, v)) for k, v in info.items()},
            "nll": float(loss) / count,
            "first_logits": logits[0, :4, :8].tolist(),
            "layer": type(model.model.layers[0].mlp.up_proj).__name__,
        }
    forge = sorted(m for m in sys.modules if m.split(".")[0] in ("gpu_agent", "console"))
    print(json.dumps({"folders": out, "forge_modules": forge}))
    """
)


def _batch(corpus, folder):
    shards = PackedShards(corpus, "val")
    items = [shards[i] for i in range(min(SEQS, len(shards)))]
    batch = {key: np.stack([it[key] for it in items]).tolist() for key in items[0]}
    pad = shards.pad_id if shards.pad_id != shards.eos_id else None
    if pad is not None:
        batch["labels"] = [[-100 if t == pad else t for t in row] for row in batch["labels"]]
    path = folder / "batch.json"
    path.write_text(json.dumps(batch))
    return path


@pytest.fixture(scope="module")
def plain(quantized, model_dir, tiny_trained, tmp_path_factory):
    """name -> what plain transformers saw in each quantized folder ("parent" too)."""
    batch_path = _batch(tiny_trained["corpus"], tmp_path_factory.mktemp("plain"))
    folders = {"parent": model_dir, **{name: quantized[name][0] for name in QUANTIZED}}
    done = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN, str(batch_path), *map(str, folders.values())],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=batch_path.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["forge_modules"] == []
    return {name: report["folders"][str(folder)] for name, folder in folders.items()}


@pytest.mark.parametrize("name", list(RECIPES))
def test_each_format_is_written_and_generates(quantized, name):
    folder, info = quantized[name]
    recipe = RECIPES[name]
    method = recipe["method"]
    assert info["method"] == method
    assert info["algorithm"] == recipe.get("algorithm", "rtn")
    assert info["bits"] == METHODS[method]
    assert info["group_size"] == (INT4_GROUP if method == "w4a16" else None)
    assert info["bytes"] == (folder / "model.safetensors").stat().st_size
    assert (folder / "tokenizer.json").is_file()
    assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".yaml")]
    config = json.loads((folder / "config.json").read_text())
    assert LEGACY_QUANT_KEY not in config
    if METHODS[method] < 16:
        quant = config["quantization_config"]
        assert quant["quant_method"] == "compressed-tensors"
        assert sorted(quant["ignore"]) == sorted(["lm_head", *info["kept_16_bit"]])
        assert describe(config)["method"] == method
        assert info["vllm"]["quantization"] == "compressed-tensors"
        assert "scale_dtype" not in json.dumps(quant)  # older readers refuse it
        assert info["libraries"]["llmcompressor"] and info["libraries"]["compressed-tensors"]
    out = generate(folder, ["The model"], max_new_tokens=6, device="cpu")
    assert out["outputs"][0]["new_tokens"] >= 1


@pytest.mark.parametrize("name", QUANTIZED)
def test_plain_transformers_loads_it_and_gets_forges_perplexity(
    plain, quantized, tiny_trained, name
):
    folder, _ = quantized[name]
    seen = plain[name]
    assert all(not keys for keys in seen["info"].values()), seen["info"]  # no MISSING
    forge = perplexity(folder, tiny_trained["corpus"], max_sequences=SEQS, device="cpu")
    assert seen["nll"] == pytest.approx(forge["nll"], rel=1e-5, abs=1e-6)
    # Against the parent opened the same way: close, and not identical (it is quantized).
    change = np.exp(seen["nll"]) / np.exp(plain["parent"]["nll"]) - 1
    assert abs(change) <= PPL_BOUND[name], f"{name}: perplexity changed by {change:+.3%}"
    assert seen["first_logits"] != plain["parent"]["first_logits"]


# Perplexity change vs the float32 parent (plain transformers, SEQS validation rows).
# Measured on the tiny model (6 training steps, perplexity about 390), 2026-12-07:
# see the assertion messages; the bounds are about 20x those and still catch a broken
# scale or a transposed group, which move perplexity by far more.
PPL_BOUND = {"w8a16": 0.005, "w4a16": 0.02, "w4a16-gptq": 0.02, "fp8": 0.01}


def test_quantized_layers_shrink_and_the_rest_stays_16_bit(quantized):
    def sizes(folder):
        out = {"linear": 0, "other": 0}
        with safe_open(str(folder / "model.safetensors"), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
                t = fh.get_tensor(key)
                linear = ".layers." in key and (
                    key.endswith(("weight_packed", "weight_scale", "weight_shape"))
                    or (t.ndim == 2 and "norm" not in key)
                )
                out["linear" if linear else "other"] += t.numel() * t.element_size()
        return out

    bf16, w8, w4, fp8 = (sizes(quantized[n][0]) for n in ("bf16", "w8a16", "w4a16", "fp8"))
    assert 0.5 <= w8["linear"] / bf16["linear"] <= 0.56
    assert 0.5 <= fp8["linear"] / bf16["linear"] <= 0.56
    # int4 + a 16-bit scale per 32 inputs (0.28 of bf16) for q/k/v/o/gate/up; the
    # 172-wide down_proj is no multiple of 32 and stays 16-bit: 0.44 of bf16 in all.
    assert 0.40 <= w4["linear"] / bf16["linear"] <= 0.47
    assert quantized["w4a16"][1]["kept_16_bit"] == [
        "model.layers.0.mlp.down_proj",
        "model.layers.1.mlp.down_proj",
    ]
    assert quantized["w8a16"][1]["kept_16_bit"] == []
    assert w8["other"] == w4["other"] == fp8["other"] == bf16["other"]


def test_gptq_records_its_calibration_and_differs_from_round_to_nearest(quantized):
    _, info = quantized["w4a16-gptq"]
    assert info["calibration"]["sequences"] == 32
    assert info["calibration"]["split"] == "train"
    assert info["calibration"]["tokens"] > 32 * 10
    with (
        safe_open(str(quantized["w4a16"][0] / "model.safetensors"), framework="pt") as rtn,
        safe_open(str(quantized["w4a16-gptq"][0] / "model.safetensors"), framework="pt") as gptq,
    ):
        key = "model.layers.0.mlp.up_proj.weight_packed"
        assert not torch.equal(rtn.get_tensor(key), gptq.get_tensor(key))


def test_forge_on_cpu_opens_it_as_plain_transformers_does(quantized):
    model, tokenizer = load_model(quantized["w4a16"][0], device="cpu")
    assert type(model.model.layers[0].mlp.up_proj).__name__ == "Linear"
    assert model.dtype == torch.float32 and tokenizer is not None
    assert "decompressed" in model.forge_runtime


# ------------------------------------------------------------------ refusals


def _nothing_left(tmp_path):
    return not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_already_quantized_folder_is_refused(quantized, tmp_path):
    with pytest.raises(ModelFolderError, match="already quantized"):
        quantize(quantized["w8a16"][0], tmp_path / "again", method="w4a16", device="cpu")
    assert not (tmp_path / "again").exists() and _nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "int3"}, "unknown quantization method"),
        ({"method": "w4a16", "algorithm": "awq"}, "unknown algorithm"),
        ({"method": "fp8", "algorithm": "gptq"}, "fp8 takes no calibration"),
        ({"method": "w4a16", "algorithm": "gptq"}, "needs a calibration set"),
        ({"method": "w4a16", "group_size": 100}, "group_size must be one of"),
    ],
)
def test_bad_requests_are_refused_before_any_work(model_dir, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        quantize(model_dir, tmp_path / "out", device="cpu", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_calibration_set_too_small_or_of_another_tokenizer_is_refused(
    model_dir, tiny_corpus, tmp_path
):
    small = tmp_path / "small"
    small.mkdir()
    index = json.loads((tiny_corpus / "index.json").read_text())
    # The same shards, with a larger vocabulary declared: another tokenizer's ids.
    for path in tiny_corpus.iterdir():
        (small / path.name).write_bytes(path.read_bytes())
    (small / "index.json").write_text(json.dumps({**index, "vocab_size": 52_000}))
    with pytest.raises(ValueError, match="another tokenizer"):
        quantize(
            model_dir,
            tmp_path / "out",
            method="w4a16",
            algorithm="gptq",
            calibration_dir=small,
            device="cpu",
        )
    with pytest.raises(ValueError, match="calibration sequences must be"):
        quantize(
            model_dir,
            tmp_path / "out",
            method="w4a16",
            algorithm="gptq",
            calibration_dir=tiny_corpus,
            calibration_samples=0,
            device="cpu",
        )
    assert not (tmp_path / "out").exists() and _nothing_left(tmp_path)


def test_a_legacy_forge_only_folder_is_refused_with_what_to_do(model_dir, tmp_path):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for path in model_dir.iterdir():
        (legacy / path.name).write_bytes(path.read_bytes())
    config = json.loads((legacy / "config.json").read_text())
    config[LEGACY_QUANT_KEY] = {"method": "int8", "bits": 8, "modules": []}
    (legacy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="quantize the full-precision parent again"):
        load_model(legacy, device="cpu")


@pytest.mark.parametrize(("method", "bound"), [("w4a16", 1e-4), ("w8a16", 1e-5), ("fp8", 0.1)])
def test_forges_gpu_loader_gives_plain_transformers_logits(tmp_path, method, bound):
    """The loader Forge serves with on a GPU (gpu_agent.models.kernels), run on CPU with
    torch's CPU variants of the same kernels: the same logits as plain transformers'
    decompressed model (fp8 adds its per-token activation rounding)."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    from gpu_agent.models import kernels
    from gpu_agent.models.quantize import _load_with_kernels

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=256,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    LlamaForCausalLM(config).save_pretrained(tmp_path / "parent")
    folder = tmp_path / method
    quantize(tmp_path / "parent", folder, method=method, group_size=64, device="cpu")
    info = describe(json.loads((folder / "config.json").read_text()))
    ours = _load_with_kernels(folder, info, device="cpu", dtype=torch.float32)
    plain = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    kind = {"w4a16": kernels.Int4Linear, "fp8": kernels.Fp8Linear, "w8a16": torch.nn.Linear}
    assert isinstance(ours.model.layers[0].mlp.down_proj, kind[method])
    ids = torch.randint(0, 256, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = ours(ids).logits, plain(ids).logits
    assert ((a - b).abs().max() / b.abs().max()).item() <= bound
