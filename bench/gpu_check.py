"""`make gpu-check`: on a machine with a CUDA GPU, the GPU tests and the book's notebooks in the
full profile, timed, in under 12 minutes on one current data-centre GPU.

1. `pytest -m gpu -q` (tests/test_gpu.py): every seqlab model's forward and backward on CUDA equals
   the CPU's; seqlab's LSTM/GRU/RNN equal cuDNN's; seqlab's attention equals the fused kernels;
   decoding picks the same tokens on both devices.
2. The notebooks of NOTEBOOKS executed with SEQLAB_PROFILE=full (nbclient, a fresh kernel each),
   each with its own time limit and all within one overall budget, then a Markdown table of wall
   time, status and the numbers each notebook glued into the prose (read by bench/run.py's
   `glued`), printed and written to _build/gpu-check.md. The executed notebooks are kept under
   _build/gpu-check/ for a look at their outputs.

The whole book in the full profile takes far longer than 12 minutes (about 50 minutes by the
estimates below), so NOTEBOOKS is a selection, at least one notebook per chapter where one fits;
LEFT_OUT says what is left out and why. `--all` runs every notebook (no overall budget unless
`--budget` is given). On a machine without CUDA this script says so and exits 0 without running
anything; `--dry-run` pretends there is a device and runs the same path on the CPU (the gpu tests
compare CPU with CPU, one small notebook), so the script itself is checked anywhere.

Exit status 1 when a test fails, a notebook fails or runs out of time, or the budget left a
notebook unrun; 0 when everything ran and passed.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUDGET_S = 660  # everything this script starts ends within 11 minutes: a minute of the 12 stays for start-up and slack
TESTS_ESTIMATE_S = 60  # pytest -m gpu: collecting the suite (~15 s), CUDA start-up, ~80 small tests
TESTS_LIMIT_S = 240

# Estimated wall seconds of each notebook in the full profile on one H200-class GPU, kernel start
# included. How they were made (no GPU was at hand): the notebook's fast-profile time in the book
# build on a 2-core CPU, scaled by the full/fast ratio of its by_profile config (steps, epochs,
# sequence lengths, data sizes); from-scratch layers stepped in Python loops counted as launch-bound
# (about 10 µs per operation on a GPU, roughly what a CPU spends per operation at these sizes), cuDNN
# and fused layers at 1-5 ms per training step, CPU-only parts (jieba, snownlp, pypinyin, n-gram
# baselines, prefix beam search) as measured. The printed table shows the real time next to each
# estimate: correct them after the first GPU run. A notebook gets at most 2.5 x its estimate + 30 s.
NOTEBOOKS: dict[str, int] = {
    "book/00-intro/model-families.ipynb": 8,  # no training
    "book/01-embedding/01-one-hot-and-embedding.ipynb": 12,  # no profile-dependent sizes
    "book/02-rnn/01-rnn-basics.ipynb": 10,  # no profile-dependent sizes
    "book/02-rnn/02-bptt-and-clipping.ipynb": 60,  # 4 x 3,000 steps of a 32-unit RNN cell over T = 25-30
    "book/03-lstm-gru/02-sentiment.ipynb": 70,  # cuDNN BiLSTM, 10 epochs of ~440 batches; jieba and naive Bayes on the CPU
    "book/03-lstm-gru/04-title-generator.ipynb": 50,  # 2 cuDNN LMs x 60 short epochs; Kneser-Ney on the CPU
    "book/04-training/02-normalization-and-residual.ipynb": 60,  # ~8 MLP runs x 50 epochs on the digits; LSTM stacks
    "book/05-seq2seq/02-decoding-and-zhuyin.ipynb": 100,  # cuDNN GRU seq2seq, 15 epochs x 625 batches; beam search on 5,000 clauses
    "book/06-ctc-crf/01-ctc.ipynb": 90,  # CNN + cuDNN BiLSTM + seqlab's CTC loop, 25 epochs x 313 batches; prefix beam search on the CPU
    "book/07-attention/01-attention-as-lookup.ipynb": 40,  # 10 small retrieval runs of 1,000 steps; kernel timings
    "book/08-transformer/01-self-attention-and-positions.ipynb": 50,  # timings up to T = 1,024; 2 x 2,000 sorting steps
}

# Left out of the 12 minutes: (estimated seconds, why). The first group alone would exceed the budget;
# the second would fit on its own but not together with the selection above.
LEFT_OUT: dict[str, tuple[int, str]] = {
    "book/03-lstm-gru/01-lstm-and-gru.ipynb": (
        400, "seqlab's RNN/LSTM/GRU stepped in Python over T = 50 and 200, 6 runs x 2,000 steps: launch-bound"),
    "book/05-seq2seq/01-encoder-decoder.ipynb": (
        200, "seqlab's from-scratch GRU seq2seq, 2 wirings x 30 epochs x 235 batches, stepped in Python"),
    "book/05-seq2seq/03-conditional-title-generator.ipynb": (
        250, "all ~57,000 poems: seq2seq 30 epochs and the title LM 40 epochs"),
    "book/06-ctc-crf/02-crf-segmentation.ipynb": (
        150, "2 taggers x 12 epochs x 940 batches; the CRF's forward algorithm loops over time"),
    "book/07-attention/02-attention-seq2seq.ipynb": (
        220, "4 seq2seq trainings (numerals 30,000 x 30 epochs, Zhuyin 40,000 x 15), with and without attention"),
    "book/08-transformer/03-transformer-seq2seq.ipynb": (
        250, "Transformer seq2seq on 40,000 clauses x 20 epochs (d = 256) and headlines x 40; O(t^2) decoding"),
    "book/08-transformer/04-poetry-transformer.ipynb": (
        250, "a 512-unit LSTM and a 3-layer GPT (d = 384) on all poems, 20 epochs each"),
    "book/01-embedding/02-skip-gram.ipynb": (
        120, "budget: skip-gram and CBOW, 15 epochs each over People's Daily"),
    "book/03-lstm-gru/03-poetry.ipynb": (
        120, "budget: 2-layer 512-unit LSTM LM on all ~46,000 training poems, 20 epochs"),
    "book/04-training/01-lstm-and-initialization.ipynb": (
        90, "budget: 8 seeds x 2 forget-gate biases x 2,000 steps, plus deep MLP runs"),
    "book/04-training/03-optimizers-and-schedules.ipynb": (
        110, "budget: an optimiser x learning-rate sweep of 3,000-step LSTM runs, plus schedules"),
    "book/04-training/04-regularization-and-focal-loss.ipynb": (
        90, "budget: 7 LM trainings (one with a stepwise recurrent-dropout LSTM) and the focal-loss runs"),
    "book/07-attention/03-attention-headlines.ipynb": (
        60, "budget: LM and 3 seq2seq models on the headlines, beam-search decodings"),
    "book/07-attention/04-captioning-and-memory.ipynb": (
        80, "budget: captioning and memory-network runs, 40 epochs of 10,000 examples"),
    "book/08-transformer/02-layers-and-norms.ipynb": (
        90, "budget: post-/pre-norm, warm-up and 24-layer runs of 600 steps each"),
}
DRY_RUN_NOTEBOOKS = ["book/02-rnn/01-rnn-basics.ipynb"]  # the dry run's one small notebook: trains, glues


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _notebook_name(given: str) -> str:
    """A notebook as the tables name it: relative to the repository (book/...) when it is inside it."""
    path = Path(given)
    if not path.is_absolute() and not path.exists() and (ROOT / "book" / path).exists():
        path = ROOT / "book" / path  # "02-rnn/01-rnn-basics.ipynb" is under book/
    path = path.resolve() if path.exists() else ROOT / path
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _notebook_path(name: str) -> Path:
    return ROOT / name  # an absolute name stays as it is


def _bench_run():
    """bench/run.py (its `glued`, `env` and `TABLES`), loaded by path: no copy of its code here."""
    return _load("bench_run", ROOT / "bench" / "run.py")


@dataclass
class Result:
    notebook: str
    estimate: int
    status: str = "not run"
    seconds: float = 0.0
    glued: dict[str, str] = field(default_factory=dict)
    slowest: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def device_line(dry_run: bool) -> str:
    import torch

    versions = f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
    if dry_run:
        return f"DRY RUN on the CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores): no GPU used; {versions}"
    props = torch.cuda.get_device_properties(0)
    return (f"{torch.cuda.get_device_name(0)} (compute capability {props.major}.{props.minor}, "
            f"{props.total_memory / 2**30:.0f} GiB; {torch.cuda.device_count()} device(s)); {versions}")


def run_tests(limit_s: float, dry_run: bool) -> tuple[bool, str, str, float]:
    """`pytest -m gpu -q` with the venv's python: (passed, summary line, output, seconds)."""
    env = dict(os.environ)
    if dry_run:
        env["SEQLAB_GPU_TEST_DEVICE"] = "cpu"  # the gpu tests compare the CPU with itself
    else:
        env["SEQLAB_REQUIRE_GPU"] = "1"  # a test that finds no GPU fails rather than skips
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=max(1.0, limit_s))
    except subprocess.TimeoutExpired as error:
        out = (error.stdout or b"").decode() if isinstance(error.stdout, bytes) else (error.stdout or "")
        return False, f"timed out after {limit_s:.0f} s", out, time.perf_counter() - start
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else f"no output (exit {proc.returncode})"
    if proc.returncode == 5:
        summary += " (exit 5: no test ran)"
    return proc.returncode == 0, summary, output, seconds


def _slowest_cell(nb) -> str:
    """The cell that took longest, from nbclient's timing metadata: 'cell 12: 40.1 s'."""
    best, where = -1.0, ""
    for k, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            if seconds > best:
                best, where = seconds, f"cell {k}: {seconds:.1f} s"
    return where


def execute(result: Result, limit_s: float, kernel_env: dict[str, str], out_dir: Path, bench) -> None:
    """Run one notebook in a fresh kernel, at most ``limit_s`` seconds in all; fill in ``result``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = _notebook_path(result.notebook)
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + limit_s
    client = NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},  # run where the book build runs it
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),  # each cell gets what is left
        startup_timeout=max(1, min(120, int(limit_s))))
    target = out_dir / (result.notebook if not Path(result.notebook).is_absolute() else path.name)  # never the source
    target.parent.mkdir(parents=True, exist_ok=True)
    log = target.with_suffix(".kernel.log")  # the kernel process's own stderr (its warnings, a crash)
    start = time.perf_counter()
    try:
        with log.open("w", encoding="utf-8") as stderr:
            client.execute(env=kernel_env, stderr=stderr)
        result.status = "ok"
    except CellTimeoutError:
        result.status = f"timeout ({limit_s:.0f} s)"
    except CellExecutionError as error:
        result.status = f"error: {error.ename}"
        result.detail = str(error)[-3000:]
    except DeadKernelError as error:
        result.status = "kernel died"
        result.detail = str(error)[-3000:]
    except Exception as error:  # the kernel did not start, a file is missing, ...: report it, go on
        result.status = f"error: {type(error).__name__}"
        result.detail = str(error)[-3000:]
    result.seconds = time.perf_counter() - start
    result.detail = re.sub(r"\x1b\[[0-9;]*m", "", result.detail)  # the traceback's colours
    result.glued = bench.glued(nb)
    result.slowest = _slowest_cell(nb)
    nbformat.write(nb, target)
    if not result.ok:
        result.detail += f"\n(executed notebook: {target}; kernel log: {log})"


def abbreviate(values: dict[str, str], tables: tuple[str, ...], width: int) -> str:
    parts = []
    for name, value in values.items():
        if name in tables:  # a list of row dicts: its length only
            try:
                parts.append(f"{name}: {len(ast.literal_eval(value))} rows")
            except (ValueError, SyntaxError, TypeError):
                parts.append(f"{name}: (a table)")
        else:
            parts.append(f"{name}={value}")
    text = re.sub(r"\s+", " ", ", ".join(parts)).replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def table(results: list[Result], tables: tuple[str, ...], width: int, slowest: bool = False) -> str:
    head = "| notebook | est. s | wall s | status | glued numbers |" + (" slowest cell |" if slowest else "")
    rule = "|---|---:|---:|---|---|" + ("---|" if slowest else "")
    rows = [head, rule]
    for r in results:
        wall = f"{r.seconds:.0f}" if r.status != "not run" and not r.status.startswith("skipped") else ""
        row = (f"| {r.notebook.removeprefix('book/')} | {r.estimate} | {wall} | {r.status} | "
               f"{abbreviate(r.glued, tables, width) if r.glued else ''} |")
        rows.append(row + (f" {r.slowest} |" if slowest else ""))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true",
                        help="pretend there is a GPU: the same steps on the CPU (gpu tests CPU vs CPU, one small notebook)")
    parser.add_argument("--all", action="store_true", help="every notebook, the left-out ones too (no overall budget)")
    parser.add_argument("--notebooks", nargs="+", metavar="PATH", help="run these notebooks instead (paths under book/)")
    parser.add_argument("--budget", type=float, help=f"overall seconds (default {BUDGET_S}; none with --all)")
    parser.add_argument("--profile", choices=("fast", "full"), default="full", help="SEQLAB_PROFILE of the notebooks")
    parser.add_argument("--skip-tests", action="store_true", help="only the notebooks")
    parser.add_argument("--out", type=Path, help="the Markdown report (default _build/gpu-check.md)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("No CUDA GPU here (torch.cuda.is_available() is False): nothing ran.\n"
              "Run `make gpu-check` on a machine with a CUDA GPU; `python bench/gpu_check.py --dry-run` "
              "tries this script's GPU path on the CPU.")
        return 0

    if args.notebooks:
        chosen = [_notebook_name(p) for p in args.notebooks]
    elif args.dry_run:
        chosen = DRY_RUN_NOTEBOOKS
    elif args.all:
        chosen = sorted([*NOTEBOOKS, *LEFT_OUT])
    else:
        chosen = list(NOTEBOOKS)
    estimates = {**NOTEBOOKS, **{k: v[0] for k, v in LEFT_OUT.items()}}
    unknown = [p for p in chosen if not _notebook_path(p).is_file()]
    if unknown:
        parser.error(f"no such notebook: {', '.join(unknown)}")
    budget = args.budget if args.budget is not None else (float("inf") if args.all else BUDGET_S)
    out = args.out or ROOT / "_build" / ("gpu-check-dry-run.md" if args.dry_run else "gpu-check.md")
    out_dir = out.with_suffix("")  # _build/gpu-check/: the executed notebooks
    left_out = {k: v for k, v in LEFT_OUT.items() if k not in chosen}

    device = device_line(args.dry_run)
    print(f"# GPU check\n\n{device}\nprofile {args.profile}; budget "
          f"{'none' if budget == float('inf') else f'{budget:.0f} s'}; {len(chosen)} notebook(s)\n")
    if left_out and not args.notebooks and not args.dry_run:
        print("Left out (estimated full-profile seconds on one GPU, why); `--all` runs them too:")
        for path, (seconds, why) in left_out.items():
            print(f"  {path}  ~{seconds} s  {why}")
        print()

    def remaining() -> float:
        return budget - (time.monotonic() - started)

    tests_ok, tests_summary, tests_output, tests_seconds = True, "not run (--skip-tests)", "", 0.0
    if not args.skip_tests:
        print("## pytest -m gpu -q\n", flush=True)
        tests_ok, tests_summary, tests_output, tests_seconds = run_tests(min(TESTS_LIMIT_S, remaining()), args.dry_run)
        tail = tests_output.strip().splitlines()
        print("\n".join(tail[-40:]))
        print(f"\npytest: {'passed' if tests_ok else 'FAILED'} in {tests_seconds:.0f} s: {tests_summary}\n", flush=True)

    bench = _bench_run()
    kernel_env = bench.env()  # the venv's tools on PATH, no MPLBACKEND (as bench/run.py runs the book)
    kernel_env["SEQLAB_PROFILE"] = args.profile
    results = [Result(p, estimates.get(p, 0)) for p in chosen]
    print("## Notebooks\n", flush=True)
    for r in results:
        left = remaining()
        limit = min(left, 2.5 * r.estimate + 30) if r.estimate else left
        if left < max(10.0, 0.5 * r.estimate):
            r.status = "skipped: budget spent"
            print(f"{r.notebook}: skipped, {max(0.0, left):.0f} s of the budget left", flush=True)
            continue
        print(f"{r.notebook} (estimate {r.estimate} s, limit {limit:.0f} s) ...", end=" ", flush=True)
        execute(r, limit, kernel_env, out_dir, bench)
        print(f"{r.status}, {r.seconds:.0f} s", flush=True)
    total = time.monotonic() - started

    failed = [r for r in results if not r.ok]
    print("\n" + table(results, bench.TABLES, width=110))
    verdict = "PASSED" if tests_ok and not failed else "FAILED"
    print(f"\n{verdict}: tests {'passed' if tests_ok else 'failed'}; {len(results) - len(failed)}/{len(results)} "
          f"notebooks ok; {total:.0f} s in all (report: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out})")

    lines = [f"# GPU check, {datetime.now():%Y-%m-%d %H:%M}", "", device, "",
             f"profile {args.profile}; total {total:.0f} s (budget {'none' if budget == float('inf') else f'{budget:.0f} s'}); "
             f"**{verdict}**", "", "## Tests", "",
             f"`pytest -m gpu -q`: {tests_summary}" if args.skip_tests else
             f"`pytest -m gpu -q`: {'passed' if tests_ok else 'FAILED'} in {tests_seconds:.0f} s: {tests_summary}", ""]
    if not tests_ok:
        lines += ["```", *tests_output.strip().splitlines()[-80:], "```", ""]
    lines += ["## Notebooks", "", table(results, bench.TABLES, width=400, slowest=True), ""]
    if left_out and not args.notebooks and not args.dry_run:
        lines += ["Left out (estimated full-profile seconds on one GPU):", ""]
        lines += [f"- {path} (~{seconds} s): {why}" for path, (seconds, why) in left_out.items()] + [""]
    for r in results:
        if r.glued:
            lines += [f"### {r.notebook}", "", *(f"- {k} = {v}" for k, v in r.glued.items()), ""]
        if r.detail:
            lines += [f"### {r.notebook}: {r.status}", "", "```", *r.detail.strip().splitlines()[-60:], "```", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    return 0 if verdict == "PASSED" else 1


if __name__ == "__main__":
    sys.exit(main())
