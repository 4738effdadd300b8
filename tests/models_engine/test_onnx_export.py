"""ONNX export of a tiny random Llama: onnxruntime against transformers, a run
without Forge, refusals, and a failed verification that leaves nothing behind."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from gpu_agent.models import onnx_export
from gpu_agent.models.folder import ModelFolderError
from gpu_agent.models.onnx_export import DEFAULT_PROMPTS, export_onnx
from tests.shared import built_once

pytestmark = [pytest.mark.slow]
NEW_TOKENS = 16
LAYERS = 2
SAMPLE = "Once upon a time there was a model, and it ran fast on small GPUs."


def _parent(folder: Path) -> None:
    """A random 2-layer Llama (GQA: 4 heads, 2 KV heads) with a WordLevel tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    # the default prompts' words and a sample's, then filler words up to 512
    split = pre_tokenizers.Whitespace()
    words = [w for text in (*DEFAULT_PROMPTS, SAMPLE) for w, _ in split.pre_tokenize_str(text)]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for word in words + [f"w{i}" for i in range(512)]:
        vocab.setdefault(word, len(vocab))
    vocab = {word: i for word, i in vocab.items() if i < 512}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = split
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", 1)]
    )
    tokenizer.decoder = decoders.WordPiece()
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    ).save_pretrained(folder)


@pytest.fixture(scope="session")
def onnx_built(tmp_path_factory) -> Path:
    """The parent and its export, made once per test run and shared by xdist's
    workers (tests/shared.py): the export and its verification take a minute on a
    loaded CI machine. Read-only for the tests."""

    def build(base: Path) -> None:
        _parent(base / "parent")
        result = export_onnx(base / "parent", base / "onnx", max_new_tokens=NEW_TOKENS)
        (base / "result.json").write_text(json.dumps(result))

    return built_once(tmp_path_factory, "onnx-export", build)


@pytest.fixture
def parent(onnx_built) -> Path:
    return onnx_built / "parent"


@pytest.fixture
def exported(onnx_built) -> tuple[Path, dict]:
    return onnx_built / "onnx", json.loads((onnx_built / "result.json").read_text())


def leftovers(dst: Path) -> list[str]:
    return [p.name for p in dst.parent.iterdir() if p.name.startswith(f".{dst.name}.tmp-")]


def test_export_is_verified_against_transformers(parent, exported):
    dst, result = exported
    report = result["verification"]
    assert report["passed"] and report["tolerance"] == 1e-3
    assert [r["prompt"] for r in report["prompts"]] == list(DEFAULT_PROMPTS)
    for r in report["prompts"]:
        assert r["identical"] and r["onnx_tokens"] == r["transformers_tokens"]
        assert r["tokenizer_json_ids_match"] and 0 not in r["prompt_ids"]  # no <unk>
        assert r["prefill_max_abs_diff"] <= 1e-3 and r["decode_max_abs_diff"] <= 1e-3
        # every decode step with the cache was compared (no early end-of-sequence)
        assert r["decode_steps_compared"] == len(r["onnx_tokens"]) - 1
    assert sum(r["decode_steps_compared"] for r in report["prompts"]) > 0
    assert json.loads((dst / "verification.json").read_text()) == report

    # transformers' greedy decoding, run here independently of the export's code
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(parent, dtype=torch.float32).eval()
    ids = AutoTokenizer.from_pretrained(parent)(DEFAULT_PROMPTS[1], return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=2)
    assert out[0, ids.shape[1] :].tolist() == report["prompts"][1]["onnx_tokens"]

    assert result["opset"] >= 18 and result["external_data"] is None
    assert result["files"] == sorted(p.name for p in dst.iterdir())
    for name in ("model.onnx", "onnx_io.json", "README.md", "run_onnx.py", "tokenizer.json"):
        assert name in result["files"]
    assert "model.onnx.data" not in result["files"]
    assert result["bytes"] == sum(p.stat().st_size for p in dst.iterdir())
    assert not leftovers(dst)


def test_graph_io_and_trtexec_line(exported):
    dst, result = exported
    graph = onnx.load(str(dst / "model.onnx"))
    onnx.checker.check_model(graph)
    inputs = {
        v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in graph.graph.input
    }
    past = [f"past_key_values.{i}.{k}" for i in range(LAYERS) for k in ("key", "value")]
    assert list(inputs) == ["input_ids", "attention_mask", "position_ids", *past]
    assert inputs["input_ids"] == ["batch", "seq"]
    assert inputs["attention_mask"] == ["batch", "past_plus_seq"]
    assert all(inputs[name] == ["batch", 2, "past", 16] for name in past)
    outputs = [v.name for v in graph.graph.output]
    assert outputs == ["logits", *[n.replace("past_key_values", "present") for n in past]]
    io = json.loads((dst / "onnx_io.json").read_text())
    assert [(i["name"], i["dims"]) for i in io["inputs"]] == list(inputs.items())
    assert (io["opset"], io["num_layers"], io["num_kv_heads"], io["head_dim"]) == (
        result["opset"],
        LAYERS,
        2,
        16,
    )

    readme = (dst / "README.md").read_text()
    command = re.search(r"```sh\n(trtexec .*?)\n```", readme, re.S).group(1)
    for which in ("min", "opt", "max"):
        shapes = re.search(rf"--{which}Shapes=(\S+)", command).group(1)
        named = dict(item.rsplit(":", 1) for item in shapes.split(","))
        assert list(named) == list(inputs)  # every input of the graph, in order
        dims = {name: [int(d) for d in shape.split("x")] for name, shape in named.items()}
        batch, seq = dims["input_ids"]
        for name in past:
            assert dims[name][:2] == [batch, 2] and dims[name][3] == 16
        assert dims["attention_mask"] == [batch, dims[past[0]][2] + seq]
    assert "--minShapes=input_ids:1x1," in command and "past_key_values.0.key:1x2x0x16" in command
    assert "not tested" in readme and "trtllm-build" in readme


def test_folder_runs_with_onnxruntime_alone(exported, tmp_path):
    """The README's snippet and the folder's run_onnx.py, in a fresh isolated python
    (-I: no PYTHONPATH, no current directory) that must not import torch,
    transformers or Forge."""
    dst, result = exported
    readme = (dst / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    for line in ('folder = "."', 'prompt = "Once upon a time"', "max_new_tokens = 32"):
        assert line in snippet
    snippet = snippet.replace('folder = "."', f"folder = {str(dst)!r}").replace(
        "max_new_tokens = 32", f"max_new_tokens = {NEW_TOKENS}"
    )
    code = (
        snippet
        + """
import sys
sys.path.insert(0, folder)
import run_onnx
runner = run_onnx.onnx_generate(folder, prompt, max_new_tokens)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "gpu_agent"))
print(json.dumps({"snippet": new_tokens, "runner": runner["tokens"], "heavy": heavy}))
"""
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-B", "-c", code],  # -B: the shared folder stays as exported
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    want = next(r for r in result["verification"]["prompts"] if r["prompt"] == "Once upon a time")
    assert out["heavy"] == []
    assert out["snippet"] == out["runner"] == want["transformers_tokens"]
    assert len(want["transformers_tokens"]) == NEW_TOKENS


def _quantization_config(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["quantization_config"] = {
        "quant_method": "compressed-tensors",
        "format": "int-quantized",
    }
    (folder / "config.json").write_text(json.dumps(config))


def _forge_quantization(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["forge_quantization"] = {"method": "int8", "bits": 8, "modules": []}
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "spoil, message",
    [
        (_quantization_config, "quantized folder .*quantization_config.*full-precision parent"),
        (_forge_quantization, "quantized folder .*forge_quantization.*full-precision parent"),
        (lambda f: (f / "pytorch_model.bin").write_bytes(b"x"), "pickle-format file"),
        (lambda f: (f / "tokenizer.json").unlink(), "no tokenizer.json"),
    ],
    ids=["compressed-tensors", "forge-quantized", "pickle", "no-tokenizer-json"],
)
def test_refusals_leave_nothing(parent, tmp_path, spoil, message):
    src = tmp_path / "src"
    shutil.copytree(parent, src)
    spoil(src)
    dst = tmp_path / "out" / "onnx"
    with pytest.raises(ModelFolderError, match=message):
        export_onnx(src, dst)
    assert not dst.exists() and not (tmp_path / "out").exists()


def test_refuses_an_existing_destination(parent, tmp_path):
    dst = tmp_path / "onnx"
    dst.mkdir()
    (dst / "keep.txt").write_text("mine")
    with pytest.raises(ModelFolderError, match="already exists"):
        export_onnx(parent, dst)
    assert [p.name for p in dst.iterdir()] == ["keep.txt"]
    assert not leftovers(dst)


@pytest.mark.parametrize(
    "kwargs",
    [{"prompts": []}, {"prompts": [""]}, {"max_new_tokens": 0}, {"opset": 13}],
)
def test_bad_arguments(parent, tmp_path, kwargs):
    with pytest.raises(ValueError):
        export_onnx(parent, tmp_path / "onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_failed_verification_leaves_nothing(parent, exported, tmp_path, monkeypatch):
    """The exported graph with noise added to its embedding table: onnxruntime no
    longer agrees with transformers, so the export fails and dst is never created."""
    graph = onnx.load(str(exported[0] / "model.onnx"))
    (table,) = [t for t in graph.graph.initializer if t.name.endswith("embed_tokens.weight")]
    array = onnx.numpy_helper.to_array(table)
    noise = np.random.default_rng(0).normal(0, 0.1, array.shape).astype(array.dtype)
    table.CopyFrom(onnx.numpy_helper.from_array(array + noise, table.name))

    def spoiled_export(model, tmp, *, opset, external):
        onnx.save(graph, str(tmp / "model.onnx"))

    monkeypatch.setattr(onnx_export, "_export_graph", spoiled_export)
    dst = tmp_path / "onnx"
    failed = r"ONNX verification failed.*logits differ by"
    with pytest.raises(ModelFolderError, match=failed) as err:
        export_onnx(parent, dst, prompts=["the model"], max_new_tokens=4)
    assert "tolerance 0.001" in str(err.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("location", ["model.onnx.data", "weights.bin"])
def test_external_data(parent, exported, tmp_path, monkeypatch, location):
    """Above EXTERNAL_DATA_BYTES the exporter is asked for external data. torch's
    exporter is stood in for by the fixture's graph saved the way torch saves it
    (tensors over 1 KiB in <graph>.data; a second real export would double this
    file's time), then checked: one data file, model.onnx.data, or the export fails."""
    graph = onnx.load(str(exported[0] / "model.onnx"))
    asked = {}

    def export(module, args, f, **kwargs):
        asked.update(kwargs, args=len(args))
        onnx.save(graph, f, save_as_external_data=True, location=location)

    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 0)
    monkeypatch.setattr(torch.onnx, "export", export)
    dst = tmp_path / "onnx"
    if location != "model.onnx.data":
        with pytest.raises(ModelFolderError, match=r"wrote weights to .*weights\.bin"):
            export_onnx(parent, dst, prompts=["the model"], max_new_tokens=4)
        assert list(tmp_path.iterdir()) == []
        return
    result = export_onnx(parent, dst, prompts=["the model"], max_new_tokens=4)
    assert asked["external_data"] is True and asked["dynamo"] is True
    assert asked["args"] == 3 + 2 * LAYERS
    assert result["verification"]["passed"] and result["external_data"] == "model.onnx.data"
    assert [f for f in result["files"] if f.startswith("model.")] == [
        "model.onnx",
        "model.onnx.data",
    ]
    on_disk = onnx.load(str(dst / "model.onnx"), load_external_data=False)
    locations = {
        entry.value
        for tensor in on_disk.graph.initializer
        for entry in tensor.external_data
        if entry.key == "location"
    }
    assert locations == {"model.onnx.data"}
    readme = (dst / "README.md").read_text()
    assert "--minShapes=input_ids:1x1," in readme


def test_exporter_errors_become_a_model_folder_error(parent, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("Cannot trace this op\nand a long stack after it")

    monkeypatch.setattr(torch.onnx, "export", broken)
    dst = tmp_path / "onnx"
    with pytest.raises(ModelFolderError, match=r"could not export .*RuntimeError: Cannot trace"):
        export_onnx(parent, dst, prompts=["the model"], max_new_tokens=2)
    assert list(tmp_path.iterdir()) == []
