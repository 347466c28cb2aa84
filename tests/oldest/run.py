"""The package at the oldest versions its ranges allow (`make test-oldest`).

pyproject.toml declares ranges (``torch>=2.5``, ``numpy>=1.24``, ...) so that installing seqlab on
Colab keeps Colab's own packages. This script checks that the lower ends of those ranges really work:

1. Reads pyproject.toml (fresh each run) and pins every dependency of the core and the ``data``
   extra (not ``grade``) at its lower bound in a constraints file. Where the registry has no wheel
   of that release for this Python, it takes the oldest later release that has one and says so
   (a package that ships no wheel at all, jieba say, is taken from its sdist).
2. Creates a fresh virtual environment under ``_build/oldest`` (reused while the constraints do
   not change) and installs ``seqlab[data]`` the way the Colab set-up cell does: from the package
   alone, no requirements.txt, not editable; then only the test tools (pytest, ipykernel, nbclient,
   nbformat at requirements.txt's versions), under the same constraints.
3. Runs the package tests there (``-m "not slow and not gpu"``, less the files that need tools
   outside seqlab[data], listed below) and executes one lesson notebook per chapter in that
   environment's kernel (SEQLAB_PROFILE=fast), with a data cache of its own.
4. Prints what it installed, the tests and the notebooks as Markdown tables; exits nonzero on any
   failure.

torch comes from PyPI as Colab's cell would get it: PyPI has no CPU-only build of old releases, so a
fresh environment downloads about 3 GB (torch's CUDA build and its nvidia-* wheels, 5.7 GB
installed); the CUDA build runs on a machine without a GPU. Tests and notebooks run with one thread
(OMP_NUM_THREADS=1 unless set). Only this Python is tested, not every one requires-python allows.

Why the lower bounds are what they are (each found by this script, the older release failing):
torch>=2.5: F.scaled_dot_product_attention returns zeros, not NaN, for a query whose keys are all
masked only since 2.5, and lesson 7.1 and the attention tests compare seqlab with it (seqlab itself
gives zeros on 2.3 as well). tqdm>=4.63: older tqdm.auto raises in a Jupyter kernel without
ipywidgets instead of falling back to the text bar (lesson 3.4). opencc>=1.4.2: older conversions
differ (通過 → 透過, 梁 → 樑), which moves headlines between the hashed splits. cn2an>=0.5.24: older
cn2an cannot read back numbers such as 十萬零一千. pypinyin>=0.55: older releases read 行長 as
ㄒㄧㄥˊ ㄓㄤˇ. Colab does not ship opencc, cn2an or pypinyin, and ships newer torch and tqdm.

Not a pytest file: pytest does not collect it. Options: --rebuild (a new environment even if the
constraints did not change), --refresh (ask the registry again for the pins), --no-tests,
--no-notebooks, --cache DIR.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = ("data",)  # the extras a student installs (the Colab cell: seqlab[data]); not "grade"
TOOLS = ("pytest", "ipykernel", "nbclient", "nbformat")  # at requirements.txt's pins

# Test files that need what seqlab[data] does not bring; with the reason. Besides these, any test
# file whose name says it tests the book, grading or CI workflows is left out (EXCLUDED_WORDS).
EXCLUDED = {
    "test_assignments.py": "nbgrader (the grade extra)",
    "test_wrong_answers.py": "nbgrader (the grade extra)",
    "test_grading.py": "nbgrader, bubblewrap (the grade extra)",
    "test_grading_class.py": "nbgrader, bubblewrap (the grade extra)",
    "test_book.py": "jupyter-book, Sphinx, playwright (the site build)",
    "test_course.py": "pyyaml, jupyter-book (the course's own site tools, the book extra)",
    "test_packaging.py": "maps every import to an installed distribution: needs the grade and book extras too",
}
EXCLUDED_WORDS = {"book": "the site build", "grading": "the grade extra", "assignment": "nbgrader",
                  "workflow": "CI workflow tools (actionlint)", "actionlint": "actionlint", "playwright": "playwright"}

# The quickest lesson of each chapter in the fast profile (seconds of one book build on 2 cores).
NOTEBOOKS = {
    "00-intro": "model-families.ipynb",  # 3 s
    "01-embedding": "01-one-hot-and-embedding.ipynb",  # 12 s
    "02-rnn": "01-rnn-basics.ipynb",  # 7 s
    "03-lstm-gru": "04-title-generator.ipynb",  # 32 s (03-poetry, 31 s, reads its corpus through npm, not pip)
    "04-training": "01-lstm-and-initialization.ipynb",  # 31 s
    "05-seq2seq": "03-conditional-title-generator.ipynb",  # 60 s
    "06-ctc-crf": "01-ctc.ipynb",  # 50 s
    "07-attention": "01-attention-as-lookup.ipynb",  # 18 s
    "08-transformer": "01-self-attention-and-positions.ipynb",  # 13 s
}
KERNEL = "seqlab-oldest"


def say(*lines: str) -> None:
    print(*lines, sep="\n", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, text=True, **kw)


# --- 1. the pins ---------------------------------------------------------------------------------

def declared() -> list[str]:
    """The requirement strings of the core and of EXTRAS whose markers hold here."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    strings = list(project.get("dependencies", []))
    for extra in EXTRAS:
        strings += project.get("optional-dependencies", {}).get(extra, [])
    out = []
    for s in strings:
        req = Requirement(s)
        if req.marker is None or req.marker.evaluate({"extra": EXTRAS[0]}):
            out.append(s)
    return out


def lower_bound(req) -> str | None:
    for spec in req.specifier:
        if spec.operator in (">=", "~=", "=="):
            return spec.version
    return None


def pip_resolves(python: str, requirement: str, binary: bool) -> str | None:
    """The version pip would install for ``requirement`` alone (no dependencies), or None."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [python, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed", "-q",
               "--report", str(report), requirement]
        if binary:
            cmd[4:4] = ["--only-binary=:all:"]
        if run(cmd, capture_output=True).returncode != 0 or not report.exists():
            return None
        installs = json.loads(report.read_text())["install"]
        return installs[0]["metadata"]["version"] if installs else None


def releases(python: str, name: str) -> list[str]:
    """Every release of ``name`` that the registry lists for this Python, oldest first."""
    from packaging.version import InvalidVersion, Version

    proc = run([python, "-m", "pip", "index", "versions", name], capture_output=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("Available versions:")), "")
    versions = []
    for v in line.split(":", 1)[-1].split(","):
        try:
            versions.append(Version(v.strip()))
        except InvalidVersion:
            pass
    return [str(v) for v in sorted(versions) if not v.is_prerelease and not v.local]


def resolve_pin(python: str, requirement: str) -> dict:
    """Pin one requirement at its lower bound, or at the oldest later release with a wheel."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    req = Requirement(requirement)
    bound = lower_bound(req)
    pin = {"name": req.name, "declared": requirement, "bound": bound, "version": None, "note": ""}
    if bound is None:
        pin["note"] = "no lower bound: not pinned"
        return pin
    exact = pip_resolves(python, f"{req.name}=={bound}", binary=True)
    if exact:
        pin["version"] = exact
        return pin
    later = [v for v in releases(python, req.name) if Version(v) > Version(bound) and v in req.specifier]
    for v in later[:40]:
        if pip_resolves(python, f"{req.name}=={v}", binary=True):
            pin["version"] = v
            pin["note"] = f"{bound} has no wheel for this Python; {v} is the oldest release that has one"
            return pin
    source = pip_resolves(python, f"{req.name}=={bound}", binary=False)
    if source:
        pin["version"] = source
        pin["note"] = "no wheel: built from its sdist"
        return pin
    pin["note"] = f"neither {bound} nor a later release installs here"
    return pin


def pins(cache: Path, refresh: bool) -> list[dict]:
    """The pins for the declared requirements, kept in cache/pins.json while the ranges are the same."""
    key = {"requirements": declared(), "python": platform.python_version(), "platform": platform.machine()}
    store = cache / "pins.json"
    if store.exists() and not refresh:
        saved = json.loads(store.read_text())
        if saved.get("key") == key:
            return saved["pins"]
    say(f"asking the registry for the oldest installable release of {len(key['requirements'])} requirements ...")
    result = [resolve_pin(sys.executable, r) for r in key["requirements"]]
    store.write_text(json.dumps({"key": key, "pins": result}, indent=1, ensure_ascii=False))
    return result


def tool_pins() -> list[str]:
    wanted = {t.lower() for t in TOOLS}
    lines = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*==\s*([^\s#;]+)", line)
        if m and m.group(1).lower() in wanted:
            lines.append(f"{m.group(1)}=={m.group(3)}")
    missing = wanted - {ln.split("==")[0].lower() for ln in lines}
    if missing:
        sys.exit(f"requirements.txt pins none of {sorted(missing)}")
    return lines


# --- 2. the environment --------------------------------------------------------------------------

def package_copy(dest: Path) -> Path:
    """What a clone of the repository gives pip: pyproject.toml, README.md and source/ (no build litter)."""
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "source", dest / "source",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build"))
    return dest


def pip(venv: Path, *args: str, log: Path) -> float:
    """Run the environment's pip, its output into log; exit with the tail of it on failure."""
    start = time.perf_counter()
    with open(log, "a") as f:
        f.write(f"\n$ pip {' '.join(args)}\n")
        f.flush()
        proc = run([str(venv / "bin" / "python"), "-m", "pip", *args], stdout=f, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        sys.exit("pip failed (" + " ".join(args[:3]) + " ...):\n" + "\n".join(tail) + f"\n(full log: {log})")
    return seconds


def environment(cache: Path, constraints: str, tools: list[str], rebuild: bool) -> tuple[Path, dict]:
    """A virtual environment with seqlab[data] at the constraints; rebuilt when they change."""
    venv, stamp, log = cache / "venv", cache / "venv.stamp", cache / "pip.log"
    digest = hashlib.sha256("\n".join([constraints, *tools, sys.version]).encode()).hexdigest()
    timings = {}
    fresh = rebuild or not stamp.exists() or stamp.read_text() != digest or not (venv / "bin" / "python").exists()
    (cache / "constraints.txt").write_text(constraints)
    if fresh:
        for old in (venv, cache / "data", stamp):
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        log.write_text("")
        start = time.perf_counter()
        run([sys.executable, "-m", "venv", str(venv)], check=True)
        timings["venv"] = time.perf_counter() - start
        timings["pip upgrade"] = pip(venv, "install", "-q", "--upgrade", "pip", log=log)
    with tempfile.TemporaryDirectory() as tmp:
        src = package_copy(Path(tmp))
        if fresh:
            # The Colab cell: %pip install "seqlab[data] @ git+https://...", here from the working tree.
            timings["seqlab[data]"] = pip(venv, "install", "-c", str(cache / "constraints.txt"),
                                          f"seqlab[data] @ {src.as_uri()}", log=log)
            timings["test tools"] = pip(venv, "install", "-c", str(cache / "constraints.txt"), *tools, log=log)
            run([str(venv / "bin" / "python"), "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL,
                 "--display-name", "seqlab (oldest)"], check=True, capture_output=True)
            stamp.write_text(digest)
        else:
            # Same dependencies: only the package itself is built and installed again.
            timings["seqlab (reinstalled)"] = pip(venv, "install", "--no-deps", "--force-reinstall",
                                                  str(src), log=log)
    return venv, timings


def downloaded(log: Path) -> str:
    """How much the environment's build downloaded, from pip's log ("Downloading x.whl (779.2 MB)")."""
    units = {"kB": 1e-6, "MB": 1e-3, "GB": 1.0}
    sizes = [float(n) * units[u] for n, u in re.findall(r"Downloading \S+ \(([\d.]+) (kB|MB|GB)\)",
                                                        log.read_text(errors="replace") if log.exists() else "")]
    return f"; the environment's build downloaded {len(sizes)} files, {sum(sizes):.2f} GB" if sizes else ""


def installed(venv: Path) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    out = run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"], capture_output=True, check=True)
    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(out.stdout)}


# --- 3. tests and notebooks ----------------------------------------------------------------------

def excluded_tests() -> dict[str, str]:
    out = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        reason = EXCLUDED.get(path.name) or next(
            (why for word, why in EXCLUDED_WORDS.items() if word in path.stem.split("_")), None)
        if reason:
            out[path.name] = reason
    return out


def run_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ, SEQLAB_PROFILE=os.environ.get("SEQLAB_PROFILE", "fast"),
               PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"), SEQLAB_DATA=str(cache / "data"))
    env.pop("MPLBACKEND", None)  # the kernel keeps its inline backend, as in the book build
    # One thread unless the caller says otherwise: no result depends on it, and on a shared 2-core
    # machine two OpenMP threads that spin waiting for each other made lesson 3.4 take 738 s, not 32 s.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{cache / 'venv' / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def package_tests(venv: Path, cache: Path, skip: dict[str, str]) -> dict:
    junit = cache / "junit.xml"
    junit.unlink(missing_ok=True)
    cmd = [str(venv / "bin" / "python"), "-m", "pytest", "tests", "-m", "not slow and not gpu", "-q",
           "-p", "no:cacheprovider", f"--junitxml={junit}", *[f"--ignore=tests/{name}" for name in skip]]
    start = time.perf_counter()
    proc = run(cmd, cwd=ROOT, env=run_env(cache), capture_output=True)
    seconds = time.perf_counter() - start
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "failures": []}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            if case.find("failure") is not None:
                counts["failed"] += 1
                counts["failures"].append(name)
            elif case.find("error") is not None:
                counts["errors"] += 1
                counts["failures"].append(name)
            elif case.find("skipped") is not None:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
    (cache / "pytest.log").write_text(proc.stdout + proc.stderr)
    summary = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith(("FAILED ", "ERROR "))]
    counts.update(returncode=proc.returncode, seconds=seconds, summary=summary,
                  last=(proc.stdout.strip().splitlines() or [""])[-1])
    return counts


def notebooks() -> list[Path]:
    chapters = sorted(p for p in (ROOT / "book").iterdir() if p.is_dir() and re.match(r"\d\d-", p.name))
    missing = [c.name for c in chapters if c.name not in NOTEBOOKS]
    if missing:
        sys.exit(f"no notebook chosen for chapter(s) {missing}: add the quickest lesson of each to NOTEBOOKS")
    paths = [ROOT / "book" / c / nb for c, nb in NOTEBOOKS.items()]
    gone = [str(p.relative_to(ROOT)) for p in paths if not p.exists()]
    if gone:
        sys.exit(f"NOTEBOOKS names notebooks that are gone: {gone}")
    return paths


def execute_notebooks(venv: Path, cache: Path, paths: list[Path]) -> list[dict]:
    """Each notebook in the environment's own kernel (tests/oldest/execute.py runs in that environment)."""
    out = cache / "notebooks.json"
    out.unlink(missing_ok=True)
    cmd = [str(venv / "bin" / "python"), str(Path(__file__).with_name("execute.py")), "--kernel", KERNEL,
           "--out", str(out), *map(str, paths)]
    with open(cache / "notebooks.log", "w") as log:  # the kernels' own chatter
        proc = run(cmd, cwd=ROOT, env=run_env(cache), stderr=log)
    if not out.exists():
        return [{"path": str(p), "ok": False, "seconds": 0.0, "error": f"execute.py exited {proc.returncode}"}
                for p in paths]
    return json.loads(out.read_text())


# --- 4. the report -------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=ROOT / "_build" / "oldest")
    parser.add_argument("--rebuild", action="store_true", help="a new environment even if the pins are unchanged")
    parser.add_argument("--refresh", action="store_true", help="ask the registry for the pins again")
    parser.add_argument("--no-tests", action="store_true")
    parser.add_argument("--no-notebooks", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    cache = args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)

    pinned = pins(cache, args.refresh)
    unresolved = [p for p in pinned if p["bound"] and not p["version"]]
    if unresolved:
        for p in unresolved:
            say(f"cannot install {p['declared']}: {p['note']}")
        return 1
    constraints = "".join(f"{p['name']}=={p['version']}\n" for p in pinned if p["version"])
    tools = tool_pins()
    venv, timings = environment(cache, constraints, tools, args.rebuild)
    versions = installed(venv)
    py = str(venv / "bin" / "python")
    where = run([py, "-c", "import seqlab, torch; print(seqlab.__file__); print(torch.__version__)"],
                cwd=ROOT, capture_output=True)
    check = run([py, "-m", "pip", "check"], capture_output=True)
    failures = []

    say("# seqlab at the oldest versions its ranges allow\n",
        f"Python {platform.python_version()} ({platform.machine()}), environment {venv}, "
        f"profile {run_env(cache)['SEQLAB_PROFILE']}, OMP_NUM_THREADS={run_env(cache)['OMP_NUM_THREADS']}\n")
    say("## Installed (`pip install \"seqlab[data]\"` under constraints at the lower bounds)\n",
        "| requirement | lower bound | pinned | installed | note |", "|---|---|---|---|---|")
    from packaging.utils import canonicalize_name

    for p in pinned:
        got = versions.get(canonicalize_name(p["name"]), "MISSING")
        if p["version"] and got != p["version"]:
            failures.append(f"{p['name']} installed as {got}, not {p['version']}")
        say(f"| {p['declared']} | {p['bound'] or ''} | {p['version'] or ''} | {got} | {p['note']} |")
    say("", "test tools: " + ", ".join(f"{t.split('==')[0]} {versions.get(canonicalize_name(t.split('==')[0]), '?')}"
                                      for t in tools))
    say("other packages that matter: " + ", ".join(f"{n} {versions[n]}" for n in
                                                  ("scipy", "pillow", "sympy", "triton", "joblib", "pip")
                                                  if n in versions))
    say("setup: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + downloaded(cache / "pip.log"))
    seqlab_file = where.stdout.splitlines()[0] if where.returncode == 0 else where.stderr.strip()[-500:]
    say(f"seqlab imported from: {seqlab_file}")
    if where.returncode != 0 or not seqlab_file.startswith(str(venv)):
        failures.append("seqlab is not imported from the environment's site-packages")
    if check.returncode != 0:
        say("pip check:", *("  " + ln for ln in check.stdout.splitlines()))
        failures.append("pip check reports broken requirements")

    if not args.no_tests:
        skip = excluded_tests()
        t = package_tests(venv, cache, skip)
        say("\n## Package tests (`pytest tests -m \"not slow and not gpu\"`)\n",
            "| passed | failed | errors | skipped | seconds |", "|---:|---:|---:|---:|---:|",
            f"| {t['passed']} | {t['failed']} | {t['errors']} | {t['skipped']} | {t['seconds']:.0f} |", "",
            "left out (they need what seqlab[data] does not bring): "
            + ", ".join(f"{n} ({why})" for n, why in skip.items()))
        if t["returncode"] != 0 or t["failed"] or t["errors"] or not t["passed"]:
            failures.append(f"package tests: pytest exited {t['returncode']}")
            say("", "```", *t["summary"], t["last"], "```", f"(pytest's whole output: {cache / 'pytest.log'})")

    if not args.no_notebooks:
        results = execute_notebooks(venv, cache, notebooks())
        say("\n## One lesson per chapter, executed in the environment's kernel\n",
            "| notebook | seconds | result |", "|---|---:|---|")
        for r in results:
            rel = Path(r["path"]).resolve().relative_to(ROOT)
            say(f"| {rel} | {r['seconds']:.1f} | {'ok' if r['ok'] else 'FAILED'} |")
        for r in results:
            if not r["ok"]:
                failures.append(f"notebook {Path(r['path']).name}")
                error = re.sub(r"\x1b\[[0-9;]*m", "", r["error"])
                say(f"\n{Path(r['path']).name}:", "```", *error.splitlines()[-40:], "```")

    say(f"\ntotal wall time: {time.perf_counter() - start:.0f} s")
    if failures:
        say("\nFAILED: " + "; ".join(failures))
        return 1
    say("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
