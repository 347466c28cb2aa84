"""Benchmarks of the course, printed as Markdown tables (`make bench`).

1. Wall time of a fresh `jupyter-book build` (every notebook executed) and each notebook's
   execution time, in the profile in force (SEQLAB_PROFILE, "fast" by default in make).
2. The embedding evaluation of chapter 1: skip-gram vs PPMI + SVD on the same corpus, read
   from the executed notebook's glued values, so it is the very run the site shows.
3. Chapter 3: sentiment accuracy and the title generator's perplexities (LSTM vs Kneser-Ney),
   also read from the executed notebooks.
4. Chapter 4: one row per training trick, the metric without and with it (same task and seed), as
   each lesson glued it under the name ``tricks``.
5. Chapter 5: every seq2seq task's methods and decodings next to its baseline (exact match, CER,
   chrF, perplexity), as each lesson glued them under the name ``seq2seq``.
6. Chapter 6: CTC and CRF rows (glued under ``ctc_crf``).
7. Speed: seqlab's LSTM/GRU vs torch's (forward + backward), batched beam search vs a loop, and
   seqlab's CTC loss vs F.ctc_loss.
8. Autograde time per submission of each assignment, for the solution and the blank exercise,
   and the wall time of grading a synthetic class (default 100 submissions of a01) in parallel
   workers, without and with the kernel sandbox, one after the other, and the ratio of the two
   (`--class-only` runs just that).
9. The package at the oldest versions pyproject.toml allows: `tests/oldest/run.py` (`make test-oldest`)
   run whole, its tables and its wall time (a fresh environment downloads about 3 GB; `--skip-oldest`
   leaves it out, `--oldest-only` runs just that).

Timings on a shared machine are noisy: compare numbers from one run, not across runs.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))


CLASS_HEADER = ("| assignment | sandbox | submissions | workers | wall s | wall s per submission | median s per submission "
                "(one worker's view) | full marks |\n|---|---|---:|---:|---:|---:|---:|---:|")


def env() -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("MPLBACKEND", None)  # kernels keep the inline backend, so plots are drawn as on the site
    return env


def machine() -> str:
    import torch

    from seqlab.device import profile

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.node()} · {os.cpu_count()} CPU cores · {gpu} · torch {torch.__version__} · "
            f"profile {profile()}")


def build_book(out: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "jupyter-book"), "build", ".", "--builder", "html", "--path-output", str(out)],
                          cwd=ROOT, env=env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return seconds


def glued(nb) -> dict[str, str]:
    values = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook", {})
            key = record.get("mime_prefix", "") + "text/plain"
            if record.get("name") and key in output.get("data", {}):
                name, text = record["name"], output["data"][key]
                try:
                    values[name] = str(ast.literal_eval(text))
                except (ValueError, SyntaxError):
                    values[name] = text
    return values


def notebook_table(cache_path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    from jupyter_cache import get_cache

    cache = get_cache(cache_path)
    rows, glue_by_nb = [], {}
    for record in sorted(cache.list_cache_records(), key=lambda r: r.uri):
        rel = Path(record.uri).resolve().relative_to(ROOT)
        seconds = record.data.get("execution_seconds", float("nan"))
        rows.append(f"| {rel} | {seconds:.1f} | {'yes' if seconds < 90 else 'NO'} |")  # 90 s: the fast target
        glue_by_nb[str(rel)] = glued(cache.get_cache_bundle(record.pk).nb)
    return rows, glue_by_nb


def grade_times(work: Path) -> list[str]:
    import test_assignments as ta

    from seqlab.grading.synthetic import answered

    course = work / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    rows = []
    for a in ta.ASSIGNMENTS:
        ta.nbgrader(course, "generate_assignment", a, "--force")
        source = course / "solutions" / a / f"{a}.ipynb"
        release = course / "exercises" / a / f"{a}.ipynb"
        import nbformat

        for student, nb in (("solution", answered(source, release)),
                            ("blank", nbformat.read(release, as_version=4))):
            target = course / "submitted" / student / a / f"{a}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            start = time.perf_counter()
            ta.nbgrader(course, "autograde", a, "--student", student, "--force")
            rows.append(f"| {a} | {student} | {time.perf_counter() - start:.1f} |")
    return rows


def class_time(work: Path, n: int, assignment: str = "a01-embedding", workers: int | None = None,
               mode: str = "require", warm: bool = True, tag: str = "") -> tuple[list, float]:
    """Grade a synthetic class of n correct submissions with `seqlab.grading.batch.grade` (what
    `make grade` runs), with the kernel sandbox (mode "require") or without it ("off")."""
    from seqlab.grading.batch import grade
    from seqlab.grading.synthetic import make_course

    course = work / f"class-{n}-{mode}{tag}"
    make_course(ROOT, course, assignment, n_good=n, broken=False, hostile=False)
    start = time.perf_counter()
    outcomes = grade(course, [assignment], workers=workers, mode=mode, warm=warm)
    return outcomes, time.perf_counter() - start


def class_rows(work: Path, n: int, rounds: int = 4, assignment: str = "a01-embedding") -> list[str]:
    """A class of n graded without and with the sandbox, in alternating rounds of n / rounds
    submissions (so that the machine's drift falls on both alike), and the ratio of the totals."""
    totals = {"off": [0.0, []], "require": [0.0, []]}
    ratios = []
    for r in range(rounds):
        size = n // rounds + (1 if r < n % rounds else 0)
        walls = {}
        for mode in (("off", "require") if r % 2 == 0 else ("require", "off")):
            outcomes, wall = class_time(work, size, assignment, mode=mode, warm=r == 0, tag=f"-{r}")
            totals[mode][0] += wall
            totals[mode][1] += outcomes
            walls[mode] = wall
        ratios.append(walls["require"] / walls["off"])
    rows = []
    for mode, label in (("off", "off"), ("require", "on")):
        wall, outcomes = totals[mode]
        ok = sum(o.status == "graded" and o.score == o.max_score for o in outcomes)
        per = sorted(o.seconds for o in outcomes)
        rows.append(f"| {assignment} | {label} | {n} | {os.cpu_count()} | {wall:.0f} | {wall / n:.2f} | "
                    f"{per[len(per) // 2]:.1f} | {ok}/{n} |")
    ratio = totals["require"][0] / totals["off"][0]
    ratios.sort()
    return rows + ["", f"sandbox cost: {ratio:.3f}× the wall time without it ({(ratio - 1) * 100:+.1f}%); "
                       f"per round {', '.join(f'{x:.3f}' for x in ratios)} (median {ratios[len(ratios) // 2]:.3f})"]


TABLES = ("tricks", "seq2seq", "ctc_crf", "attention_basics", "attention", "attention_memory", "transformer")  # glued lists of row dicts, printed as tables rather than as numbers


def glued_table(glue_by_nb: dict[str, dict[str, str]], name: str, title: str, columns: dict[str, str]) -> None:
    """Print the rows every notebook glued under ``name`` (a list of dicts) as one table, with the lesson first."""
    rows = [(nb_path, row) for nb_path, values in glue_by_nb.items() if name in values
            for row in ast.literal_eval(values[name])]
    if not rows:
        return
    print(f"\n## {title}, profile {os.environ.get('SEQLAB_PROFILE', 'auto')}\n")
    print("| lesson | " + " | ".join(columns.values()) + " |\n|" + "---|" * (len(columns) + 1))
    for nb_path, row in rows:
        cells = [Path(nb_path).stem] + [str(row.get(k, "")).replace("|", "/") for k in columns]
        print("| " + " | ".join(cells) + " |")


def course_table(glue_by_nb: dict[str, dict[str, str]]) -> None:
    """One table for the course: every row chapters 7 and 8 glued under "attention" and "transformer"
    (plain seq2seq, seq2seq + attention, Transformer, and the baselines), grouped by task, from the
    same book build (same run, same profile)."""
    rows = [(nb_path, row) for name in ("attention", "transformer") for nb_path, values in glue_by_nb.items()
            if name in values for row in ast.literal_eval(values[name])]
    if not rows:
        return
    columns = {"method": "method", "decoding": "decoding", "exact": "exact match", "cer": "CER", "chrf": "chrF",
               "params": "parameters", "seconds": "train s"}
    print(f"\n## The course's comparison: plain seq2seq, + attention, Transformer (same build), "
          f"profile {os.environ.get('SEQLAB_PROFILE', 'auto')}\n")
    print("| task | lesson | " + " | ".join(columns.values()) + " |\n|" + "---|" * (len(columns) + 2))
    for task in dict.fromkeys(row.get("task", "") for _, row in rows):
        for nb_path, row in rows:
            if row.get("task", "") == task:
                cells = [task, Path(nb_path).stem] + [str(row.get(k, "")).replace("|", "/") for k in columns]
                print("| " + " | ".join(cells) + " |")


def recurrent_speed(rounds: int = 5) -> list[str]:
    """Forward + backward of our LSTM/GRU vs torch's at B=32, T=100, H=128 on the CPU, interleaved.

    On the CPU, torch's ``nn.LSTM`` runs oneDNN's fused RNN primitive when oneDNN is enabled (the
    default); ``nn.GRU`` and the oneDNN-disabled ``nn.LSTM`` run ATen's step-by-step loop, which does
    the same matrix products as seqlab. Both references are timed, in the same interleaved rounds.
    """
    import statistics

    import torch
    import torch.nn as nn

    from seqlab.nn.recurrent import GRU, LSTM

    B, T, H = 32, 100, 128
    rows = []
    for name, ours_cls, ref_cls in (("LSTM", LSTM, nn.LSTM), ("GRU", GRU, nn.GRU)):
        torch.manual_seed(0)
        ref = ref_cls(H, H, batch_first=True)
        ours = ours_cls(H, H, batch_first=True)
        ours.load_state_dict(ref.state_dict())
        x = torch.randn(B, T, H)

        def step(model, onednn=True):
            with torch.backends.mkldnn.flags(enabled=onednn):
                start = time.perf_counter()
                out, _ = model(x)
                out.sum().backward()
                return time.perf_counter() - start

        step(ref), step(ref, False), step(ours)  # warm-up
        t_ref, t_plain, t_ours = [], [], []
        for _ in range(rounds):
            t_ref.append(step(ref))
            t_plain.append(step(ref, onednn=False))
            t_ours.append(step(ours))
        r, p, o = (statistics.median(t) for t in (t_ref, t_plain, t_ours))
        rows.append(f"| {name} | {r * 1000:.0f} | {p * 1000:.0f} | {o * 1000:.0f} | {o / r:.2f}× | {o / p:.2f}× |")
    return rows


def oldest() -> bool:
    """Section 9: tests/oldest/run.py as `make test-oldest` runs it, its headings one level down."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "oldest" / "run.py")], cwd=ROOT, env=env(),
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print(f"\n## The package at its oldest versions (`make test-oldest`): {seconds:.0f} s, "
          f"{'passed' if proc.returncode == 0 else f'FAILED (exit {proc.returncode})'}\n")
    for line in proc.stdout.splitlines():
        if not line.startswith("# "):
            print("#" + line if line.startswith("## ") else line)
    if proc.returncode != 0:
        print("\n```\n" + proc.stderr[-3000:] + "\n```")
    return proc.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-grading", action="store_true")
    parser.add_argument("--class-size", type=int, default=100, help="synthetic class graded in parallel (0: skip)")
    parser.add_argument("--class-only", action="store_true", help="only the class-grading benchmark")
    parser.add_argument("--skip-oldest", action="store_true", help="leave out the oldest-versions run")
    parser.add_argument("--oldest-only", action="store_true", help="only the oldest-versions run")
    args = parser.parse_args()
    if args.oldest_only:
        print(f"# The package at its oldest versions\n\nmachine: {machine()}")
        sys.exit(0 if oldest() else 1)
    if args.class_only:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"# Grading a class\n\nmachine: {machine()}\n")
            print(CLASS_HEADER)
            print("\n".join(class_rows(Path(tmp), args.class_size)))
        return
    print(f"# Benchmarks\n\nmachine: {machine()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seconds = build_book(work / "site")
        rows, glue_by_nb = notebook_table(work / "site" / "_build" / ".jupyter_cache")
        print("## Book build\n")
        print(f"fresh `jupyter-book build` (executing every notebook): **{seconds:.0f} s**\n")
        print("| notebook | execution s | under 90 s (fast-profile target) |\n|---|---:|:---:|")
        print("\n".join(rows))

        g = glue_by_nb.get("book/01-embedding/02-skip-gram.ipynb", {})
        if g:
            print("\n## Chapter 1: word embeddings on People's Daily (1998-01), course evaluation set\n")
            print("| method | neighbour P@5 | analogy accuracy | time s |\n|---|---:|---:|---:|")
            print(f"| skip-gram + negative sampling ({g.get('sgns_epochs')} epochs) | {g.get('sgns_p5')} | "
                  f"{g.get('sgns_analogy')} | {g.get('sgns_seconds')} |")
            print(f"| PPMI + SVD (baseline) | {g.get('ppmi_p5')} | {g.get('ppmi_analogy')} | {g.get('ppmi_seconds')} |")
            print(f"\nverdict: skip-gram {g.get('verdict')} (profile {g.get('profile_name')})")

        s = glue_by_nb.get("book/03-lstm-gru/02-sentiment.ipynb", {})
        if s:
            print("\n## Chapter 3: review sentiment, same held-out test split\n")
            print("| method | test accuracy |\n|---|---:|")
            print(f"| majority class | {s.get('majority_acc')} |\n| naive Bayes (snownlp, retrained on train) | {s.get('bayes_acc')} |")
            print(f"| LSTM, characters ({s.get('lstm_epochs')} epochs, {s.get('lstm_seconds')} s) | {s.get('lstm_acc')} |")

        t = glue_by_nb.get("book/03-lstm-gru/04-title-generator.ipynb", {})
        if t:
            print("\n## Chapter 3: title generator, People's Daily headlines, same fixed split\n")
            print("| model | validation perplexity | test perplexity |\n|---|---:|---:|")
            for key, name in (("kn1", "Kneser-Ney unigram"), ("kn3", "Kneser-Ney trigram (baseline)"),
                              ("untied", "2-layer LSTM, untied"), ("lstm", "2-layer LSTM, tied weights"),
                              ("mix", f"interpolation LSTM + KN (lambda {t.get('best_lambda')})")):
                print(f"| {name} | {t.get(f'ppl_{key}_valid')} | {t.get(f'ppl_{key}_test')} |")
            print(f"\nLSTM: {t.get('n_epochs')} epochs, {t.get('train_seconds')} s; test winner: {t.get('winner_test')}; "
                  f"paired bootstrap 95% interval of LSTM - KN test perplexity: [{t.get('boot_low')}, {t.get('boot_high')}] "
                  f"({t.get('boot_verdict')})")

        glued_table(glue_by_nb, "tricks", "Chapter 4: training tricks, each without and with it (same task and seed)",
                    {"trick": "trick", "task": "task", "metric": "metric", "without": "without", "with": "with",
                     "verdict": "verdict"})
        glued_table(glue_by_nb, "seq2seq", "Chapter 5: seq2seq tasks against their baselines (test split)",
                    {"task": "task", "method": "method", "decoding": "decoding", "exact": "exact match", "cer": "CER",
                     "chrf": "chrF", "other": "other"})
        glued_table(glue_by_nb, "ctc_crf", "Chapter 6: CTC and CRF against their baselines (test split)",
                    {"task": "task", "method": "method", "metric": "metric", "value": "value", "other": "other"})
        glued_table(glue_by_nb, "attention_basics", "Chapter 7: attention as a lookup (synthetic retrieval, speed)",
                    {"task": "task", "method": "method", "metric": "metric", "value": "value", "other": "other"})
        glued_table(glue_by_nb, "attention_memory", "Chapter 7: attention over image regions and as memory (synthetic)",
                    {"task": "task", "method": "method", "metric": "metric", "value": "value", "other": "other"})
        glued_table(glue_by_nb, "attention", "Chapter 7: seq2seq without and with attention, same data and budget (test split)",
                    {"task": "task", "method": "method", "decoding": "decoding", "exact": "exact match", "cer": "CER",
                     "chrf": "chrF", "other": "other"})

        glued_table(glue_by_nb, "transformer", "Chapter 8: the Transformer on the course's tasks (test split)",
                    {"task": "task", "method": "method", "decoding": "decoding", "exact": "exact match", "cer": "CER",
                     "chrf": "chrF", "params": "parameters", "seconds": "train s", "other": "other"})
        course_table(glue_by_nb)

        print("\n## Every number the notebooks glued into the prose\n")
        for nb_path, values in glue_by_nb.items():
            if values:
                print(f"- {nb_path}: " + ", ".join(f"{k}={v}" for k, v in values.items() if k not in TABLES))

        print("\n## Recurrent layers: seqlab vs torch, forward + backward, CPU, B=32 T=100 H=128 (median of 5)\n")
        print("| layer | torch ms | torch ms, oneDNN off | seqlab ms | ratio | ratio, oneDNN off |\n"
              "|---|---:|---:|---:|---:|---:|")
        print("\n".join(recurrent_speed()))

        from beam import BEAM_HEADER, beam_speed  # bench/beam.py and bench/ctc.py, next to this file
        from ctc import CTC_HEADER, ctc_speed

        print("\n## Beam search: one batched call vs a loop over the inputs, CPU\n")
        print(BEAM_HEADER)
        print("\n".join(beam_speed()))

        print("\n## CTC loss: seqlab vs F.ctc_loss, forward + backward, CPU, B=32 T=100 V=12 S=8\n")
        print(CTC_HEADER)
        print("\n".join(ctc_speed()))

        from attention import ATTENTION_HEADER, attention_speed

        print("\n## Scaled dot-product attention: seqlab vs F.scaled_dot_product_attention, forward + backward, CPU\n")
        print(ATTENTION_HEADER)
        print("\n".join(attention_speed()))

        from multihead import MULTIHEAD_HEADER, multihead_speed

        print("\n## Multi-head attention: seqlab vs nn.MultiheadAttention, forward + backward, CPU\n")
        print(MULTIHEAD_HEADER)
        print("\n".join(multihead_speed()))

        if not args.skip_grading:
            print("\n## Autograding (one submission each)\n")
            print("| assignment | submission | seconds |\n|---|---|---:|")
            print("\n".join(grade_times(work)))
            if args.class_size:
                print(f"\n## A synthetic class of {args.class_size}, `python -m seqlab.grading grade`\n")
                print(CLASS_HEADER)
                print("\n".join(class_rows(work, args.class_size)))

    if not args.skip_oldest:
        oldest()


if __name__ == "__main__":
    main()
