"""bench/data: MB/s per core of Forge's data engine next to datatrove's, same input.

Two tasks, each run by both systems with one process and one thread (one worker,
one task; tokenizers' Rayon pool held to one thread), in turns, for --rounds rounds:

* clean: URL removal and whitespace normalisation, a quality filter, e-mail and IP
  masking, exact dedup, MinHash near-dedup (Jaccard 0.8, 5-grams, 11 bands x 11
  rows). Forge: one ``run_pipeline`` (the dedup rules stream in the same pass).
  datatrove 0.10.1: its usual six executor runs (reader, a URL/whitespace
  formatter written for it with the same regexes a user would write, Gopher
  quality filter, PIIFormatter, JsonlWriter, ExactDedupSignature; ExactFindDedups;
  ExactDedupFilter + MinhashDedupSignature; MinhashDedupBuckets (one task per
  bucket, run one after the other); MinhashDedupCluster; MinhashDedupFilter),
  uncompressed JSONL between them.
* tokenize: a byte-level BPE tokenizer trained by Forge on data/sample; Forge's
  ``tokenize_to_shards`` (seq_len 2048) vs datatrove's ``DocumentTokenizer``
  (``<eos>`` after each document, no shuffling), same tokenizer.json.

Input: ``--mb`` MB of English JSONL made from the sentences of data/sample/en.jsonl
(documents of 3-8 paragraphs of random sentences; 4% exact and 3% near copies, 2%
junk documents; e-mail, IP, phone, URL lines and whitespace noise in some), written
once under --work and reused. MB/s counts the input's documents.jsonl bytes
(JSON-escaped text) over wall time; "per CPU-s" divides by the process's CPU time
instead, which other tenants of a shared machine disturb less.

    .venv/bin/python bench/data.py                       # 150 MB, 3 rounds (~25 min on 2 cores)
    .venv/bin/python bench/data.py --mb 10 --rounds 1    # a quick look
    .venv/bin/python bench/data.py --profile forge-clean # py-spy on Forge's clean run

datatrove lives in its own virtualenv, bench/.venv-datatrove, created on first use
(``datatrove[processing,io]==0.10.1`` and spacy, whose blank English tokenizer
datatrove's Gopher filter and MinHash use; no model download).

This file runs in both virtualenvs: ``--side NAME`` runs one side and prints a
``RESULT {json}`` line; everything else imports lazily.
"""

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
FORGE_PY = ROOT / ".venv" / "bin" / "python"
DT_VENV = BENCH / ".venv-datatrove"
DT_PY = DT_VENV / "bin" / "python"
DT_PACKAGES = ["datatrove[processing,io]==0.10.1", "spacy>=3.8", "py-spy"]
SAMPLE = ROOT / "data" / "sample"
CLEAN_INPUT = "input-clean"  # the first --clean-mb MB of "input"
ONE_THREAD = {
    "RAYON_NUM_THREADS": "1",
    "RAYON_RS_NUM_CPUS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
SIDES = (
    "forge-clean",
    "datatrove-clean",
    "datatrove_split-clean",
    "forge-tokenize",
    "datatrove-tokenize",
)

# The same work on both sides: see the module docstring.
FORGE_STEPS = [
    {"rule": "remove_urls"},
    {"rule": "normalize_whitespace"},
    {"rule": "length_filter", "params": {"min_chars": 50}},
    {"rule": "quality_filter"},
    {"rule": "mask_email"},
    {"rule": "mask_ip"},
    {"rule": "exact_dedup"},
    {"rule": "near_dedup", "params": {"threshold": 0.8, "num_perm": 128, "shingle_size": 5}},
]
BANDS, ROWS = 11, 11  # what Forge's near_dedup picks for 0.8 and 128 permutations

URL = re.compile(r"(?:(?:https?|ftp)://|www\.)\S+", re.IGNORECASE)
ODD_SPACE = re.compile(r"[^\S\n]+")
AROUND_NL = re.compile(r" *\n *")
MANY_NL = re.compile(r"\n{3,}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ the input


def sentence_pool() -> list[str]:
    pool = set()
    with (SAMPLE / "en.jsonl").open(encoding="utf-8") as f:
        for line in f:
            for para in json.loads(line)["text"].split("\n"):
                for s in re.split(r"(?<=[.!?])\s+", para.strip()):
                    if 40 <= len(s) <= 400 and s.isascii():
                        pool.add(s)
    return sorted(pool)


def make_document(rng: random.Random, pool: list[str]) -> str:
    paras = [" ".join(rng.choices(pool, k=rng.randint(2, 6))) for _ in range(rng.randint(3, 8))]
    n = rng.randrange(100_000)
    if rng.random() < 0.2:
        paras.append(
            f"For details write to clerk.{n}@example.org or call +44 20 7946 {n % 10_000:04d}."
        )
    if rng.random() < 0.08:
        paras.append(
            f"Logged from {rng.randrange(1, 224)}.{rng.randrange(256)}.0.{rng.randrange(1, 255)}."
        )
    if rng.random() < 0.15:
        paras.append(
            f"More at https://www.example.org/news/{n}?ref=feed and www.example.com/a/{n}."
        )
    text = "\n\n".join(paras)
    if rng.random() < 0.1:
        text = text.replace(". ", ".  ").replace("\n\n", "  \n\n\n\n", 2) + "   "
    return text


def junk_document(rng: random.Random) -> str:
    return rng.choice(
        [
            "|| ==== >>> ### ---- *** ||| <<< ~~~ ^^^ $$$ " * rng.randint(3, 30),
            "Click here",
            "Home | About | Contact | Login | Cart\n" * rng.randint(5, 20),
        ]
    )


def write_input(version_dir: Path, mb: float, seed: int) -> dict:
    """A Forge dataset version (documents.jsonl + manifest.json) of about ``mb`` MB."""
    from console.data.engine.versions import write_version

    rng = random.Random(seed)
    pool = sentence_pool()
    target = int(mb * 1e6)
    recent: list[str] = []

    def docs():
        written = 0
        while written < target:
            roll = rng.random()
            if recent and roll < 0.04:
                text = rng.choice(recent)
            elif recent and roll < 0.07:
                words = rng.choice(recent).split(" ")
                words[rng.randrange(len(words))] = "changed"
                text = " ".join(words)
            elif roll < 0.09:
                text = junk_document(rng)
            else:
                text = make_document(rng, pool)
                if len(recent) < 200:
                    recent.append(text)
                else:
                    recent[rng.randrange(200)] = text
            written += len(json.dumps({"text": text}, ensure_ascii=False).encode()) + 1
            yield text

    stats = write_version(docs(), version_dir, extra={"bench": {"mb": mb, "seed": seed}})
    return {"documents": stats.documents, "bytes": stats.bytes}


def ensure_input(work: Path, mb: float, seed: int) -> dict:
    version = work / "input"
    manifest = version / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("bench") == {"mb": mb, "seed": seed}:
            return {"documents": m["documents"], "bytes": m["bytes"]}
    shutil.rmtree(version, ignore_errors=True)
    log(f"writing {mb:g} MB of input to {version}")
    return write_input(version, mb, seed)


def ensure_prefix(work: Path, mb: float) -> dict:
    """The first ``mb`` MB of the input (whole documents) as a version of its own."""
    from console.data.engine.versions import read_version, write_version

    version = work / CLEAN_INPUT
    manifest = version / "manifest.json"
    source = json.loads((work / "input" / "manifest.json").read_text())
    want = {"mb": mb, "of": source["sha256"]}
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("bench") == want:
            return {"documents": m["documents"], "bytes": m["bytes"]}
    shutil.rmtree(version, ignore_errors=True)

    def head():
        written = 0
        for text in read_version(work / "input"):
            written += len(json.dumps({"text": text}, ensure_ascii=False).encode()) + 1
            if written > mb * 1e6:
                return
            yield text

    stats = write_version(head(), version, extra={"bench": want})
    return {"documents": stats.documents, "bytes": stats.bytes}


def ensure_tokenizer(work: Path) -> Path:
    from console.data.engine.tokenizer import train_tokenizer
    from console.data.engine.versions import write_version

    out = work / "tokenizer"
    if (out / "tokenizer.json").exists():
        return out
    texts = []
    for name in ("en.jsonl", "zh.jsonl"):
        with (SAMPLE / name).open(encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    write_version(iter(texts), work / "sample")
    train_tokenizer(work / "sample", out, vocab_size=16_000)
    return out


def ensure_datatrove_venv() -> None:
    if DT_PY.exists():
        probe = subprocess.run([str(DT_PY), "-c", "import datatrove, spacy"], capture_output=True)
        if probe.returncode == 0:
            return
    log(f"creating {DT_VENV} with datatrove (one time, a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(DT_VENV)], check=True)
    subprocess.run([str(DT_VENV / "bin" / "pip"), "install", "-q", *DT_PACKAGES], check=True)


def datatrove_version() -> str:
    out = subprocess.run(
        [str(DT_PY), "-c", "import importlib.metadata as m; print(m.version('datatrove'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# ------------------------------------------------------------------ the sides


def cpu_now() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def count_lines(folder: Path) -> int:
    n = 0
    for path in folder.glob("*.jsonl"):
        with path.open("rb") as f:
            n += sum(1 for _ in f)
    return n


def side_forge_clean(work: Path, out: Path) -> dict:
    from console.data.engine.clean import run_pipeline

    t0, c0 = time.perf_counter(), cpu_now()
    report = run_pipeline(work / CLEAN_INPUT, out / "v", FORGE_STEPS, workers=1)
    wall, cpu = time.perf_counter() - t0, cpu_now() - c0
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "documents_out": report["documents_out"],
        "stages_s": report["timings"]["steps_s"],
        "dropped": {s["rule"]: s["dropped"] for s in report["steps"] if s["dropped"]},
        "pii": report["pii"],
    }


def side_datatrove_split_clean(work: Path, out: Path) -> dict:
    return side_datatrove_clean(work, out, split_words=True)


def side_datatrove_clean(work: Path, out: Path, split_words: bool = False) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import GopherQualityFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.formatters.base import BaseFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SplitWords(WordTokenizer):
        """Words split at whitespace (as the Gopher paper counts them): far cheaper
        than the spaCy tokenizer datatrove uses for English, a best case for it."""

        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    language = SplitWords("en") if split_words else "en"

    class UrlWhitespaceFormatter(BaseFormatter):
        name = "URLs and whitespace"

        def format(self, text: str) -> str:
            text = URL.sub("", text)
            text = ODD_SPACE.sub(" ", text)
            text = AROUND_NL.sub("\n", text)
            return MANY_NL.sub("\n\n", text).strip()

    def text_of(doc) -> str:
        return doc.text

    exact = ExactDedupConfig(content_getter=text_of)
    minhash = MinhashConfig(n_grams=5, num_buckets=BANDS, hashes_per_bucket=ROWS)
    d = {k: str(out / k) for k in ("cleaned", "xsig", "xdup", "exact", "msig", "mbkt", "mrm")}
    stages = [
        (
            "clean+pii+exact_sig",
            [
                JsonlReader(str(work / CLEAN_INPUT), glob_pattern="documents.jsonl"),
                UrlWhitespaceFormatter(),
                GopherQualityFilter(language=language),
                PIIFormatter(only_remove_public_ips=False),
                JsonlWriter(d["cleaned"], compression=None),
                ExactDedupSignature(d["xsig"], config=exact),
            ],
            1,
        ),
        ("exact_find", [ExactFindDedups(d["xsig"], d["xdup"], config=exact)], 1),
        (
            "exact_filter+minhash_sig",
            [
                JsonlReader(d["cleaned"]),
                ExactDedupFilter(d["xdup"], config=exact),
                JsonlWriter(d["exact"], compression=None),
                MinhashDedupSignature(d["msig"], config=minhash, language=language),
            ],
            1,
        ),
        ("minhash_buckets", [MinhashDedupBuckets(d["msig"], d["mbkt"], config=minhash)], BANDS),
        ("minhash_cluster", [MinhashDedupCluster(d["mbkt"], d["mrm"], config=minhash)], 1),
        (
            "minhash_filter",
            [
                JsonlReader(d["exact"]),
                MinhashDedupFilter(d["mrm"]),
                JsonlWriter(str(out / "final"), compression=None),
            ],
            1,
        ),
    ]
    times = {}
    t0, c0 = time.perf_counter(), cpu_now()
    for name, pipeline, tasks in stages:
        s0 = time.perf_counter()
        LocalPipelineExecutor(
            pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(out / "logs" / name)
        ).run()
        times[name] = round(time.perf_counter() - s0, 3)
    wall, cpu = time.perf_counter() - t0, cpu_now() - c0
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "documents_out": count_lines(out / "final"),
        "stages_s": times,
        "kept": {"cleaned": count_lines(out / "cleaned"), "exact": count_lines(out / "exact")},
    }


def side_forge_tokenize(work: Path, out: Path) -> dict:
    from console.data.engine.shards import tokenize_to_shards

    t0, c0 = time.perf_counter(), cpu_now()
    index = tokenize_to_shards(work / "input", work / "tokenizer", out / "shards", seq_len=2048)
    wall, cpu = time.perf_counter() - t0, cpu_now() - c0
    return {"wall_s": wall, "cpu_s": cpu, "tokens": index["totals"]["tokens"]}


def side_datatrove_tokenize(work: Path, out: Path) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer

    pipeline = [
        JsonlReader(str(work / "input"), glob_pattern="documents.jsonl"),
        DocumentTokenizer(
            str(out / "tokens"),
            tokenizer_name_or_path=str(work / "tokenizer" / "tokenizer.json"),
            eos_token="<eos>",  # noqa: S106 - a token, not a password
            shuffle_documents=False,
        ),
    ]
    t0, c0 = time.perf_counter(), cpu_now()
    LocalPipelineExecutor(
        pipeline=pipeline, tasks=1, workers=1, logging_dir=str(out / "logs")
    ).run()
    wall, cpu = time.perf_counter() - t0, cpu_now() - c0
    tokens = sum(p.stat().st_size for p in (out / "tokens").glob("*.ds")) // 2  # uint16 ids
    return {"wall_s": wall, "cpu_s": cpu, "tokens": tokens}


def run_side(side: str, work: Path, out: Path) -> None:
    fn = {
        "forge-clean": side_forge_clean,
        "datatrove-clean": side_datatrove_clean,
        "datatrove_split-clean": side_datatrove_split_clean,
        "forge-tokenize": side_forge_tokenize,
        "datatrove-tokenize": side_datatrove_tokenize,
    }[side]
    print("RESULT " + json.dumps(fn(work, out)), flush=True)


# ------------------------------------------------------------------ the driver


def machine_busy_seconds() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def launch(side: str, work: Path, profile: Path | None) -> dict:
    py = DT_PY if side.startswith("datatrove") else FORGE_PY
    out = Path(tempfile.mkdtemp(prefix=f"{side}-", dir=work))
    argv = [str(py), str(Path(__file__).resolve()), "--side", side, "--work", str(work)]
    argv += ["--out", str(out)]
    if profile is not None:
        spy = [str(DT_VENV / "bin" / "py-spy"), "record", "--format", "raw", "--rate", "100"]
        argv = [*spy, "--output", str(profile), "--", *argv]
    b0, c0, t0 = machine_busy_seconds(), children_cpu(), time.perf_counter()
    proc = subprocess.run(
        argv, env={**os.environ, **ONE_THREAD}, capture_output=True, text=True, cwd=ROOT
    )
    busy, cpu, wall = machine_busy_seconds() - b0, children_cpu() - c0, time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{side} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    result = json.loads(line[len("RESULT ") :])
    # Other tenants' share of the machine while this side ran (its start-up included).
    result["others"] = max(0.0, (busy - cpu) / (wall * (os.cpu_count() or 1)))
    return result


def profile_report(path: Path, top: int = 25) -> None:
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        n = int(count)
        total += n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    print(f"\nprofile ({total} samples): inclusive share, top {top}")
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {frame[:140]}")
    print("self share, top 15")
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {100 * n / total:5.1f}%  {frame[:140]}")


def summarize(task: str, results: dict[str, list[dict]], data: dict) -> None:
    mb = data["bytes"] / 1e6
    print(f"\n{task}: {mb:.1f} MB input ({data['documents']:,} documents)")
    forge = results[f"forge-{task}"]
    for side, runs in results.items():
        if not side.endswith(f"-{task}"):
            continue
        last = runs[-1]
        what = (
            f"kept {last['documents_out']:,} documents"
            if "documents_out" in last
            else f"{last['tokens']:,} tokens"
        )
        wall = statistics.median(r["wall_s"] for r in runs)
        cpu = statistics.median(r["cpu_s"] for r in runs)
        print(
            f"  {side.removesuffix('-' + task):16s} {mb / wall:6.2f} MB/s {mb / cpu:6.2f} MB/CPU-s"
            f"  wall s {', '.join(format(r['wall_s'], '.1f') for r in runs)};"
            f" others {max(100 * r['others'] for r in runs):.0f}% max; {what}"
        )
        print(f"  {'':16s} stages s (last round): {json.dumps(last.get('stages_s', {}))}")
        if side == f"forge-{task}":
            continue
        walls = [b["wall_s"] / a["wall_s"] for a, b in zip(forge, runs, strict=True)]
        cpus = [b["cpu_s"] / a["cpu_s"] for a, b in zip(forge, runs, strict=True)]
        w, c = statistics.median(walls), statistics.median(cpus)
        print(
            f"  Forge / {side.removesuffix('-' + task)}: {w:.2f}x per core by wall time "
            f"(rounds {', '.join(f'{x:.2f}' for x in walls)}), {c:.2f}x by CPU time; "
            f"target >= 1.0x: {'met' if min(w, c) >= 1 else 'NOT met'}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=150.0, help="input MB, tokenize (default 150)")
    ap.add_argument("--clean-mb", type=float, default=30.0, help="its first MB, clean (default 30)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "forge-bench-data")
    ap.add_argument("--tasks", default="clean,tokenize", help="clean, tokenize or both")
    ap.add_argument(
        "--no-split",
        action="store_true",
        help="skip datatrove with whitespace-split words instead of spaCy's",
    )
    ap.add_argument("--profile", choices=SIDES, help="run only this side once, under py-spy")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        run_side(args.side, args.work, args.out)
        return

    sys.path.insert(0, str(ROOT))
    args.work.mkdir(parents=True, exist_ok=True)
    ensure_datatrove_venv()
    inputs = {"tokenize": ensure_input(args.work, args.mb, args.seed)}
    inputs["clean"] = ensure_prefix(args.work, args.clean_mb)
    ensure_tokenizer(args.work)
    if args.profile:
        path = args.work / f"{args.profile}.pyspy.txt"
        r = launch(args.profile, args.work, path)
        mb = inputs[args.profile.rsplit("-", 1)[1]]["bytes"] / 1e6
        print(f"{args.profile}: {mb / r['wall_s']:.2f} MB/s, {mb / r['cpu_s']:.2f} MB/CPU-s")
        profile_report(path)
        return

    tasks = [t for t in ("clean", "tokenize") if t in args.tasks.split(",")]
    systems = {"clean": ["forge", "datatrove"], "tokenize": ["forge", "datatrove"]}
    if not args.no_split:
        systems["clean"].append("datatrove_split")
    results: dict[str, list[dict]] = {}
    for rnd in range(args.rounds):
        for task in tasks:
            order = (
                systems[task][rnd % len(systems[task]) :]
                + systems[task][: rnd % len(systems[task])]
            )
            for system in order:
                side = f"{system}-{task}"
                r = launch(side, args.work, None)
                results.setdefault(side, []).append(r)
                mb = inputs[task]["bytes"] / 1e6
                log(
                    f"round {rnd + 1} {side}: {r['wall_s']:.1f} s, {mb / r['wall_s']:.2f} MB/s, "
                    f"{mb / r['cpu_s']:.2f} MB/CPU-s, others {100 * r['others']:.0f}%"
                )

    print(
        f"\nbench/data: {args.rounds} rounds, one process and one thread a side, "
        f"datatrove {datatrove_version()}, {os.cpu_count()} cores; ratio > 1: Forge faster"
    )
    for task in tasks:
        summarize(task, results, inputs[task])


if __name__ == "__main__":
    main()
