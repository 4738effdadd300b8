"""Default alert rules follow what the run trains: loss thresholds by its preset and
vocabulary, the lr rule by its own peak learning rate, judged only between the end of
warm-up and 90% of the schedule; a small run trained as scheduled fires nothing (the
reference recipe's 7B table fired on every one)."""

from __future__ import annotations

import math

import pytest

from console.alerts.defaults import DEFAULT_RULES, default_rules
from console.alerts.models import Alert, AlertRule

pytestmark = pytest.mark.django_db

VOCAB = 480  # tests/runs/conftest.py make_corpus's tokenizer


def by_name(rules) -> dict:
    return {r["name"] if isinstance(r, dict) else r.name: r for r in rules}


def test_the_reference_preset_keeps_the_reference_table():
    rules = by_name(
        default_rules(preset="deepseek-7b", vocab_size=52_000, lr=3e-5, params=6_900_000_000)
    )
    reference = by_name(DEFAULT_RULES)
    for name in ("train-loss-high", "eval-loss-high", "gpu-util", "loss-spike"):
        assert rules[name] == reference[name], name
    lr = rules["lr-out-of-range"]
    assert (lr["low"], lr["high"], lr["normal_low"], lr["normal_high"]) == (
        1.5e-6,
        4.5e-5,
        3e-6,
        3e-5,
    )
    # another vocabulary moves the loss thresholds with ln(V)
    bigger = by_name(default_rules(preset="deepseek-7b", vocab_size=100_000, lr=3e-5))
    scale = math.log(100_000) / math.log(52_000)
    assert bigger["train-loss-high"]["high"] == pytest.approx(3.0 * scale, rel=1e-2)
    assert bigger["eval-loss-high"]["normal_low"] == pytest.approx(2.0 * scale, rel=1e-2)


def test_small_presets_alert_when_worse_than_a_uniform_guess():
    rules = by_name(default_rules(preset="tiny", vocab_size=VOCAB, lr=1e-3, params=100_000))
    ln_v = math.log(VOCAB)  # 6.17: a model that learned nothing
    for name in ("train-loss-high", "eval-loss-high"):
        assert rules[name]["high"] == pytest.approx(1.1 * ln_v, rel=1e-2)
        assert (rules[name]["normal_low"], rules[name]["normal_high"]) == (None, 6.17)
    assert (rules["gpu-util"]["low"], rules["gpu-util"]["high"]) == (None, 98.0)
    assert (rules["lr-out-of-range"]["low"], rules["lr-out-of-range"]["high"]) == (5e-5, 1.5e-3)
    # nothing known: the reference's values stay
    unknown = by_name(default_rules(preset="tiny", vocab_size=None, lr=None))
    assert unknown["lr-out-of-range"] == by_name(DEFAULT_RULES)["lr-out-of-range"]


def test_every_new_run_gets_rules_scaled_to_it(live_run):
    run = live_run(own_rules=True, lr=2e-3).run
    rules = by_name(AlertRule.objects.filter(run=run))
    assert set(rules) == {r["name"] for r in DEFAULT_RULES}
    assert rules["train-loss-high"].high == 6.79 and rules["train-loss-high"].normal == "≤ 6.17"
    lr = rules["lr-out-of-range"]
    assert (lr.low, lr.high, lr.normal) == (1e-4, 3e-3, "0.0002\u20130.002")


def scheduled_lrs(*, peak: float, warmup: int, total: int, steps: int) -> list[float]:
    """The lr the training loop reports after each step, from DeepSpeed's own scheduler
    built from the run's stored DeepSpeed config."""
    import torch
    from deepspeed.runtime.lr_schedules import WarmupDecayLR

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    scheduler = WarmupDecayLR(
        opt,
        total_num_steps=total,
        warmup_min_lr=0.0,
        warmup_max_lr=peak,
        warmup_num_steps=warmup,
        warmup_type="linear",
    )
    out = []
    for _ in range(steps):
        opt.step()
        scheduler.step()
        out.append(float(scheduler.get_lr()[0]))
    return out


def test_a_small_run_trained_as_scheduled_fires_nothing(live_run):
    live = live_run(own_rules=True, steps=200, warmup_steps=20, lr=1e-3)
    params = live.run.deepspeed["scheduler"]["params"]
    assert (params["warmup_num_steps"], params["total_num_steps"]) == (20, 200)
    lrs = scheduled_lrs(peak=1e-3, warmup=20, total=200, steps=200)
    assert lrs[0] == 0.0 and lrs[-1] < 5e-5  # warm-up from 0, decay to 0: outside the band
    start = math.log(VOCAB)  # a fresh model's loss
    points = [
        (step, {"loss": start - 2.5 * step / 200, "lr": lr, "tokens_per_s": 900.0})
        for step, lr in enumerate(lrs, start=1)
    ]
    for i in range(0, 200, 40):  # batches, as the agent sends them
        live.metrics(*points[i : i + 40])
    assert list(Alert.objects.filter(run=live.run)) == []


def test_the_lr_rule_fires_between_warm_up_and_the_final_decay(live_run):
    live = live_run(own_rules=True, steps=200, warmup_steps=20, lr=1e-3)
    live.metrics((5, {"loss": 6.0, "lr": 0.0}), (195, {"loss": 3.0, "lr": 1e-6}))
    assert not Alert.objects.filter(run=live.run).exists()  # warm-up, final decay
    live.metrics((100, {"loss": 4.0, "lr": 1e-2}))  # 10 x the peak, mid-schedule
    [alert] = Alert.objects.filter(run=live.run)
    assert alert.rule.name == "lr-out-of-range" and alert.step == 100
    assert "lr = 0.01 at step 100: above 0.0015" in alert.message
    live.metrics((101, {"loss": 4.0, "lr": 5.6e-4}))
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    live.metrics((150, {"loss": 4.0, "lr": 1e-5}))  # below 5% of the peak at 75%
    assert Alert.objects.filter(run=live.run, resolved_at__isnull=True).count() == 1
