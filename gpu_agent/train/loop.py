"""Forge's training entry point: one readable loop.

    deepspeed --num_gpus 8 -m gpu_agent.train --spec launch.json           # one node
    DS_ACCELERATOR=cpu deepspeed --num_gpus 1 -m gpu_agent.train --spec …  # CPU, gloo

``launch.json`` is the LaunchSpec the agent wrote: ``spec`` is a TrainSpec
(gpu_agent/train/spec.py) whose ``deepspeed`` dict is the exact DeepSpeed
configuration the console stored. ``Trainer.run`` is the loop:

    set up (distributed, data, DeepSpeed engine, run.json)
    → load the latest complete checkpoint, if any
    → ``train_step``: an optimizer step (micro-batches x gradient accumulation)
    → ``evaluate`` every ``checkpoint.eval_every`` steps
    → ``report`` metrics (rank 0: marker lines the agent streams; TensorBoard)
    → ``save`` a checkpoint every ``checkpoint.every`` steps (all ranks, then marked
      complete by rank 0, then announced to the console)
    → a final checkpoint.

SIGTERM (pause, or the agent shutting down) finishes the current step, saves a
checkpoint and exits 143, so the run resumes from exactly there. Exit codes:
0 done, 2 invalid spec or data, 143 stopped after a checkpoint.

A rank that crashes writes its traceback to ``$FORGE_JOB_DIR/errors/rank-<n>.txt``
before it dies: the agent reports the first one as the attempt's failure reason (the
other ranks' errors are usually only the broken collective that followed).
``FORGE_TRAIN_CRASH_AT=<rank>:<step>`` makes that rank raise at that step, and
``FORGE_TRAIN_KILL_IN_SAVE=<rank>:<step>`` makes it SIGKILL itself in the middle of
that step's save (its DeepSpeed files written, the completion marker not): fault
injection, for tests and drills of the restart path.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import socket
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from gpu_agent.data import PackedShards, ShardIndexError
from gpu_agent.spec import STDOUT_MARKER, SpecError, spec_from_dict
from gpu_agent.train import checkpoints
from gpu_agent.train.presets import flops_per_token, param_count
from gpu_agent.train.safe_load import UnsafeCheckpoint, no_code_in_pickles
from gpu_agent.train.spec import TrainSpec

# Dense bf16 peak by device name, for MFU (FORGE_PEAK_TFLOPS overrides).
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0}


class CannotTrain(ValueError):
    """The spec and the data or the machine disagree: a clear error, exit code 2."""


_stop_requested = False


def _on_sigterm(signum: int, frame: object) -> None:
    global _stop_requested
    _stop_requested = True


def emit(record: dict[str, Any]) -> None:
    print(STDOUT_MARKER + json.dumps(record, separators=(",", ":")), flush=True)


def load_launch(path: Path) -> tuple[TrainSpec, dict[str, Any] | None]:
    data = json.loads(Path(path).read_text())
    checkpoint = None
    if isinstance(data, dict) and "spec" in data and "kind" in data:
        checkpoint = data.get("checkpoint")
        data = data["spec"]
    return spec_from_dict(TrainSpec, data), checkpoint


def peak_flops(torch) -> float | None:
    if os.environ.get("FORGE_PEAK_TFLOPS"):
        return float(os.environ["FORGE_PEAK_TFLOPS"]) * 1e12
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for key, tflops in PEAK_TFLOPS.items():
        if key in name:
            return tflops * 1e12
    return None


def llama_config(m, tokens: dict[str, int | None] | None = None, **extra: Any):
    """The transformers LlamaConfig of a ModelSpec (bos/eos ids from ``tokens``)."""
    from transformers import LlamaConfig

    tokens = tokens or {}
    return LlamaConfig(
        bos_token_id=tokens.get("bos_token_id"),
        eos_token_id=tokens.get("eos_token_id"),
        vocab_size=m.vocab_size,
        hidden_size=m.hidden_size,
        num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads,
        num_key_value_heads=m.num_heads,
        intermediate_size=m.intermediate_size,
        max_position_embeddings=m.max_positions,
        initializer_range=m.initializer_range,
        rms_norm_eps=m.norm_eps,
        # a field in transformers 4; in 5 (typed without it) a legacy key it moves into
        # rope_parameters
        rope_theta=m.rope_theta,  # type: ignore[call-arg]
        tie_word_embeddings=m.tie_embeddings,
        **extra,
    )


def build_model(spec: TrainSpec, torch, tokens: dict[str, int | None] | None = None):
    """The model of the spec; ``tokens`` (bos/eos/pad ids of the corpus's tokenizer) go
    into its config, so the exported folder generates and stops like its tokenizer."""
    from transformers import LlamaForCausalLM

    tokens = tokens or {}
    config = llama_config(spec.model, tokens, attn_implementation="sdpa", use_cache=False)
    model = LlamaForCausalLM(config)
    # The pad id is set after construction: given to the constructor it becomes the
    # embedding's padding_idx, whose row init zeroes (impossible on a ZeRO-3 partition).
    model.config.pad_token_id = tokens.get("pad_token_id")
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokens.get("pad_token_id")
    if spec.activation_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


class Batches:
    """Deterministic micro-batches: micro-batch ``i`` of this rank is the same on
    every attempt, so a resumed run reads exactly what the first would have."""

    def __init__(self, shards, *, micro_batch: int, rank: int, world: int, seed: int) -> None:
        self.shards = shards
        self.micro_batch = micro_batch
        self.rank = rank
        self.world = world
        self.seed = seed
        self._epoch = -1
        self._indices: np.ndarray | None = None
        n = len(shards) // (world * micro_batch)
        if n < 1:
            raise CannotTrain(
                f"the corpus has {len(shards)} sequences: fewer than one micro-batch "
                f"({micro_batch}) for each of {world} ranks"
            )
        self.per_epoch = n

    def get(self, i: int, torch) -> dict:
        epoch, pos = divmod(i, self.per_epoch)
        if epoch != self._epoch:
            self._indices = self.shards.rank_indices(
                shuffle=True,
                seed=self.seed,
                epoch=epoch,
                rank=self.rank,
                world_size=self.world,
                batch_size=self.micro_batch,
                drop_last=True,
            )
            self._epoch = epoch
        assert self._indices is not None  # this epoch's, set above
        rows = self._indices[pos * self.micro_batch : (pos + 1) * self.micro_batch]
        items = [self.shards[int(r)] for r in rows]
        return {k: torch.as_tensor(np.stack([it[k] for it in items])) for k in items[0]}


def run(spec: TrainSpec, resume_hint: dict[str, Any] | None) -> int:
    """Train this rank's part of the run; the exit code (0 done, 143 stopped after a
    checkpoint)."""
    return Trainer(spec).run(resume_hint)


class Trainer:
    """One rank of a training run. ``run()`` is the whole of it: set up, then one loop
    of ``train_step`` → ``evaluate`` → ``report`` → ``save``; every other method is one
    of those parts. Only rank 0 (``lead``) writes reports and checkpoint markers."""

    def __init__(self, spec: TrainSpec) -> None:
        import deepspeed
        import torch
        import torch.distributed as dist

        self.spec = spec
        self.deepspeed, self.torch, self.dist = deepspeed, torch, dist
        self.root = Path(spec.checkpoint.dir)
        self.writer: Any = None

    # ------------------------------------------------------------ the loop

    def run(self, resume_hint: dict[str, Any] | None) -> int:
        spec = self.spec
        self.init_distributed()
        self.load_data()
        self.build_engine()
        self.write_run_config()
        step = self.load_checkpoint(resume_hint)
        self.open_reports(step)
        kill_in_save = _fault_at("FORGE_TRAIN_KILL_IN_SAVE", self.rank)
        self.engine.train()
        last_saved = step
        self.report_progress(step, f"step {step}/{spec.steps}")
        crash_at = _fault_at("FORGE_TRAIN_CRASH_AT", self.rank)
        while step < spec.steps:
            if step + 1 == crash_at:
                raise RuntimeError(f"injected fault (FORGE_TRAIN_CRASH_AT) at step {crash_at}")
            values = self.train_step(step)
            step += 1
            if step % spec.checkpoint.eval_every == 0 or step == spec.steps:
                values.update(self.evaluate())
            self.report(step, values)
            stopping = self.stop_everywhere()
            final = step == spec.steps and spec.checkpoint.save_final
            if step % spec.checkpoint.every == 0 or final or stopping:
                self.save(step, kill=step == kill_in_save)
                last_saved = step
            else:
                self.report_progress(step, f"step {step}/{spec.steps} loss {values['loss']:.4f}")
            if stopping:
                self.say(
                    f"stopped at step {step} after saving a checkpoint (resume continues from it)"
                )
                self.close()
                return 143
        self.close()
        self.say(f"done: {spec.steps} steps, last checkpoint at step {last_saved}")
        return 0

    # ------------------------------------------------------------ setup

    def init_distributed(self) -> None:
        torch = self.torch
        self.cpu = self.spec.gpus_per_node == 0 or not torch.cuda.is_available()
        self.deepspeed.init_distributed(
            dist_backend="gloo" if self.cpu else "nccl", timeout=timedelta(minutes=10)
        )
        self.rank, self.world = self.dist.get_rank(), self.dist.get_world_size()
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if not self.cpu:
            torch.cuda.set_device(local_rank)
        self.device = torch.device("cpu" if self.cpu else f"cuda:{local_rank}")
        self.lead = self.rank == 0

    def load_data(self) -> None:
        spec = self.spec
        self.train_shards = PackedShards(Path(spec.data.corpus_dir), "train")
        self.val_shards = PackedShards(Path(spec.data.corpus_dir), "val")
        if self.train_shards.seq_len != spec.data.seq_len:
            raise CannotTrain(
                f"the corpus has sequences of {self.train_shards.seq_len}, "
                f"the spec asks {spec.data.seq_len}"
            )
        if self.train_shards.vocab_size > spec.model.vocab_size:
            raise CannotTrain(
                f"the corpus's tokenizer has {self.train_shards.vocab_size} tokens, "
                f"the model's vocabulary {spec.model.vocab_size}"
            )

    def build_engine(self) -> None:
        spec, torch, deepspeed = self.spec, self.torch, self.deepspeed
        train = self.train_shards
        special = {
            "bos_token_id": train.bos_id,
            "eos_token_id": train.eos_id,
            "pad_token_id": train.pad_id,
        }
        torch.manual_seed(spec.seed)
        np.random.seed(spec.seed)
        ds_config = spec.deepspeed or {}
        if not ds_config:
            from gpu_agent.train.dsconfig import deepspeed_config

            ds_config = deepspeed_config(spec)
        self.ds_config = ds_config
        self.zero3 = ds_config.get("zero_optimization", {}).get("stage") == 3
        if self.zero3:
            # Built partitioned across ranks from the start: a 7B model never exists whole.
            # zero.Init patches tensor constructors: import what would import late first.
            import torch._dynamo
            import transformers.models.llama.modeling_llama  # noqa: F401

            with deepspeed.zero.Init(config_dict_or_path=ds_config):
                model = build_model(spec, torch, special)
        else:
            with torch.device(self.device):
                model = build_model(spec, torch, special)
        self.engine, _opt, _, self.scheduler = deepspeed.initialize(
            model=model, model_parameters=model.parameters(), config=ds_config
        )
        self.accum = self.engine.gradient_accumulation_steps()
        self.micro = self.engine.train_micro_batch_size_per_gpu()
        rank, world, micro = self.rank, self.world, self.micro
        self.batches = Batches(train, micro_batch=micro, rank=rank, world=world, seed=spec.seed)
        self.eval_batches = (
            Batches(self.val_shards, micro_batch=micro, rank=rank, world=world, seed=spec.seed + 1)
            if len(self.val_shards) >= world * micro
            else None
        )

    def write_run_config(self) -> None:
        """The resolved config beside the checkpoints: the folder alone reproduces the run."""
        if self.lead:
            self.root.mkdir(parents=True, exist_ok=True)
            checkpoints.write_json_atomic(
                self.root / "run.json",
                {"spec": dataclasses.asdict(self.spec), "deepspeed": self.ds_config},
            )

    def load_checkpoint(self, resume_hint: dict[str, Any] | None) -> int:
        """The step to start after: the latest complete checkpoint's, loaded, else 0."""
        root = self.root
        latest = checkpoints.latest_complete(root)
        if latest is not None:
            with no_code_in_pickles():  # DeepSpeed's torch.load would unpickle anything (S10)
                self.engine.load_checkpoint(str(root), tag=checkpoints.tag_for(latest))
            self.say(f"resumed from checkpoint step {latest} in {root}")
            return latest
        if resume_hint:
            self.say(f"no complete checkpoint in {root}; starting at step 0")
        return 0

    def open_reports(self, step: int) -> None:
        """TensorBoard (rank 0), the figures every step's report needs, the run's first line."""
        spec, torch = self.spec, self.torch
        if self.lead:
            from gpu_agent.train.tensorboard import SummaryWriter

            self.writer = SummaryWriter(self.root / "tensorboard")
        n_params = param_count(spec.model)
        seq_len = self.train_shards.seq_len
        self.tokens_per_step = self.world * self.micro * self.accum * seq_len
        self.flops_step = flops_per_token(spec.model, seq_len) * self.tokens_per_step
        self.peak = peak_flops(torch)
        self.say(
            f"training {spec.model.preset}: {n_params:,} parameters, {self.world} rank(s) on "
            f"{'CPU (gloo)' if self.cpu else torch.cuda.get_device_name()}, "
            f"{self.tokens_per_step:,} tokens a step, "
            f"steps {step + 1}..{spec.steps}"
        )

    # ------------------------------------------------------------ the parts of a step

    def train_step(self, step: int) -> dict[str, float]:
        """One optimizer step (the micro-batches of step ``step + 1``); its metric values."""
        torch, engine, accum = self.torch, self.engine, self.accum
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        for j in range(accum):
            batch = self.batch(self.batches, step * accum + j)
            loss = engine(**batch).loss
            engine.backward(loss)
            engine.step()
            loss_sum += loss.detach().float()  # no host sync per micro-batch
        loss_value = self.all_mean(loss_sum.item() / accum)
        if not self.cpu:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        scheduler = self.scheduler
        values: dict[str, float] = {
            "loss": loss_value,
            "lr": float(scheduler.get_lr()[0]) if scheduler is not None else self.spec.optimizer.lr,
            "tokens_per_s": self.tokens_per_step / seconds,
            "samples": float((step + 1) * self.world * self.micro * accum),
            "step_seconds": seconds,
        }
        grad_norm = engine.get_global_grad_norm()
        if grad_norm is not None:
            values["grad_norm"] = float(grad_norm)
        if self.peak:
            values["mfu"] = self.flops_step / seconds / (self.peak * self.world)
        if not self.cpu:
            values["gpu_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        return values

    def evaluate(self) -> dict[str, float]:
        """The mean loss over ``checkpoint.eval_batches`` validation micro-batches (all
        ranks); nothing when the corpus has too little validation data."""
        if self.eval_batches is None:
            return {}
        engine = self.engine
        engine.eval()
        losses = []
        with self.torch.no_grad():
            for i in range(min(self.spec.checkpoint.eval_batches, self.eval_batches.per_epoch)):
                losses.append(engine(**self.batch(self.eval_batches, i)).loss.item())
        engine.train()
        eval_loss = self.all_mean(sum(losses) / len(losses))
        return {"eval_loss": eval_loss, "eval_ppl": math.exp(min(eval_loss, 50.0))}

    def report(self, step: int, values: dict[str, float]) -> None:
        """Rank 0: the step's metric record, TensorBoard scalars and a log line."""
        loss_value = values["loss"]
        if not math.isfinite(loss_value):
            values["loss_nonfinite"] = 1.0  # NaN/inf cannot travel as a value: flag it
        if not self.lead:
            return
        if not math.isfinite(loss_value):
            print(f"step {step}: loss is {loss_value}", file=sys.stderr, flush=True)
        emit(
            {
                "type": "metric",
                "step": step,
                "values": {k: v for k, v in values.items() if math.isfinite(v)},
            }
        )
        tb = {
            "Loss/train": loss_value,
            "LR/train": values["lr"],
            "Throughput/tokens_per_s": values["tokens_per_s"],
        }
        if "eval_loss" in values:
            tb["Loss/eval"] = values["eval_loss"]
        if "grad_norm" in values:
            tb["GradNorm/train"] = values["grad_norm"]
        if "mfu" in values:
            tb["MFU/train"] = values["mfu"]
        self.writer.add_scalars(step, {k: v for k, v in tb.items() if math.isfinite(v)})
        print(
            f"step {step}/{self.spec.steps} loss {loss_value:.4f} lr {values['lr']:.3g} "
            f"{values['tokens_per_s']:,.0f} tok/s"
            + (f" mfu {values['mfu']:.1%}" if "mfu" in values else ""),
            flush=True,
        )

    def report_progress(self, step: int, message: str) -> None:
        """Rank 0: a progress record (no checkpoint)."""
        if self.lead:
            emit(
                {
                    "type": "progress",
                    "percent": round(100 * step / self.spec.steps, 3),
                    "message": message,
                }
            )

    def save(self, at: int, *, kill: bool = False) -> None:
        """A checkpoint of step ``at`` (all ranks), the HF export when asked, then marked
        complete and announced by rank 0. ``kill``: die in the middle (fault injection)."""
        spec, engine, root, lead = self.spec, self.engine, self.root, self.lead
        engine.save_checkpoint(
            str(root), tag=checkpoints.tag_for(at), client_state={"step": at}, save_latest=False
        )
        if kill:
            os.kill(os.getpid(), signal.SIGKILL)
        info: dict[str, Any] = {"world_size": self.world}
        if spec.checkpoint.export_weights:
            # ZeRO-3 gathers the partitioned weights to rank 0 (every rank takes part).
            state = (
                engine._zero3_consolidated_16bit_state_dict()
                if self.zero3
                else (engine.module.state_dict() if lead else None)
            )
            if lead:
                folder = root / checkpoints.tag_for(at) / checkpoints.HF_FOLDER
                # Training runs without a KV cache; whoever loads the export generates with one.
                engine.module.config.use_cache = True
                engine.module.save_pretrained(
                    folder, state_dict=state, safe_serialization=True, max_shard_size="5GB"
                )
                engine.module.config.use_cache = False
                info["hf"] = checkpoints.HF_FOLDER
            del state
        self.dist.barrier()
        if lead:
            record = checkpoints.mark_complete(root, at, info)
            emit(
                {
                    "type": "progress",
                    "percent": round(100 * at / spec.steps, 3),
                    "message": f"checkpoint at step {at}",
                    "checkpoint": {
                        "step": at,
                        "tag": record["tag"],
                        "dir": str(root),
                        **(
                            {"weights": str(root / record["tag"] / checkpoints.HF_FOLDER)}
                            if "hf" in info
                            else {}
                        ),
                    },
                }
            )
        self.dist.barrier()

    # ------------------------------------------------------------ helpers

    def batch(self, batches: Batches, i: int) -> dict:
        return {k: v.to(self.device) for k, v in batches.get(i, self.torch).items()}

    def all_mean(self, value: float) -> float:
        t = self.torch.tensor([value], dtype=self.torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return t.item() / self.world

    def stop_everywhere(self) -> bool:
        """Whether any rank was asked to stop (SIGTERM): all ranks stop at the same step."""
        t = self.torch.tensor([1 if _stop_requested else 0], device=self.device)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX)
        return bool(t.item())

    def say(self, message: str) -> None:
        if self.lead:
            print(message, flush=True)

    def close(self) -> None:
        if self.writer:
            self.writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_agent.train")
    parser.add_argument("--spec", type=Path, default=os.environ.get("FORGE_SPEC"))
    parser.add_argument(
        "--local_rank", type=int, default=None, help="set by the DeepSpeed launcher"
    )
    args = parser.parse_args(argv)
    if args.spec is None:
        parser.error("--spec (or FORGE_SPEC) is required")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        spec, resume = load_launch(args.spec)
    except (OSError, ValueError, SpecError) as exc:
        print(f"invalid spec: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        return run(spec, resume)
    except (CannotTrain, ShardIndexError, UnsafeCheckpoint) as exc:
        print(f"cannot train: {exc}", file=sys.stderr, flush=True)
        return 2
    except Exception:
        _write_error(traceback.format_exc())
        raise


def _fault_at(variable: str, rank: int) -> int | None:
    raw = os.environ.get(variable, "")
    if not raw:
        return None
    where, _, at = raw.partition(":")
    return int(at) if where.strip() == str(rank) and at.strip().isdigit() else None


def _write_error(text: str) -> None:
    """This rank's traceback, where the agent looks for the reason of a failure."""
    job_dir = os.environ.get("FORGE_JOB_DIR")
    if not job_dir:
        return
    rank = os.environ.get("RANK", "0")
    header = (
        f"rank {rank} (local rank {os.environ.get('LOCAL_RANK', '0')}) "
        f"on {socket.gethostname()} failed:\n"
    )
    folder = Path(job_dir) / "errors"
    try:
        folder.mkdir(exist_ok=True)
        tmp = folder / f".rank-{rank}.tmp"
        tmp.write_text(header + text)
        tmp.replace(folder / f"rank-{rank}.txt")
    except OSError:
        pass  # the traceback still went to stderr
