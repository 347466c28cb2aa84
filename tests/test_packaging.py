"""What a student's `pip install "seqlab[data]"` brings is enough (issue 16).

* Every third-party import in ``source/seqlab`` is declared in ``pyproject.toml``. The rule:

  - the instructor's and contributors' tools (``TOOLS``: ``seqlab.grading.*`` and the site's
    ``seqlab.course``, ``seqlab.sphinxext``, ``seqlab.course_pdf``) may import core dependencies
    and their own extra (``grade``, ``book``), anywhere in the module: no lesson imports them;
  - every other module (what the lessons import): what runs when the module is imported (module
    level, not inside a function and not inside ``try: ... except ImportError``) must be a core
    dependency, so ``import seqlab.<module>`` works after a plain ``pip install seqlab``; imports
    inside functions or behind ``except ImportError`` (the corpus loaders, sacrebleu's metrics)
    may also come from the ``data`` extra, and raise an error naming it when it is missing;
  - an optional import with a fallback (``OPTIONAL``) needs no declaration.

* Every import in the book's notebooks and the assignment solutions is provided by
  ``seqlab[data]`` (what the Colab set-up cell installs), the standard library, or the IPython
  kernel a notebook runs in; notebooks never import the tools (their extras are not installed).

* The Colab set-up cell, as committed, installs seqlab from the repository URL of
  ``_config.yml`` into a fresh virtualenv, with nothing fetched from anywhere else (slow).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from functools import lru_cache
from importlib.metadata import Distribution, PackageNotFoundError, distribution, packages_distributions, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from seqlab.course import SETUP_TAG, assignment_sources_with_setup, book_notebooks, repository, setup_source

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "source" / "seqlab"

# Imports that need no declaration, with the reason. Each must still be imported, behind a
# ``try: ... except ImportError`` (checked), so a stale or unguarded entry fails.
OPTIONAL = {
    "myst_nb": "seqlab.notebook.glue() uses myst-nb's glue while the book builds and prints otherwise",
}
# A notebook runs in an IPython kernel (ipykernel, Colab): the kernel itself provides these.
KERNEL = {"IPython": "the notebook's own kernel (ipykernel depends on ipython; Colab ships it)"}
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}
# Modules (first part of the name under seqlab) that lessons never import, and their extra.
TOOLS = {"grading": "grade", "course": "book", "course_pdf": "book", "sphinxext": "book"}


def declared(pyproject: dict) -> dict[str, set[str]]:
    """Distribution names (canonical) by group: ``core`` and one set per extra."""
    project = pyproject["project"]
    groups = {"core": project.get("dependencies", [])} | project.get("optional-dependencies", {})
    return {group: {canonicalize_name(Requirement(r).name) for r in reqs} for group, reqs in groups.items()}


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return packages_distributions()


def distributions_of(name: str) -> set[str]:
    """The installed distributions that provide top-level module ``name`` (canonical names)."""
    return {canonicalize_name(d) for d in _distributions().get(name, [])}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(k, ast.Name) and k.id in IMPORT_ERRORS for k in kinds)


def imports(tree: ast.AST) -> list[tuple[str, int, bool, bool]]:
    """``(top-level module, line, lazy, guarded)`` for every absolute import in ``tree``.

    ``lazy``: inside a function (runs when it is called, not when the module is imported);
    ``guarded``: inside the body of a ``try`` that catches ImportError. Code in strings (the
    sandbox's kernel wrapper, generated notebooks) is not parsed: it runs elsewhere.
    """
    found = []

    def visit(node: ast.AST, lazy: bool, guarded: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((a.name.split(".")[0], node.lineno, lazy, guarded) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno, lazy, guarded))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            lazy = True
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            for child in node.body:
                visit(child, lazy, True)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, lazy, guarded)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, lazy, guarded)

    visit(tree, False, False)
    return found


def _third_party(name: str) -> bool:
    return name not in sys.stdlib_module_names and name != "seqlab"


def package_problems(groups: dict[str, set[str]], package: Path = PACKAGE) -> list[str]:
    """Undeclared imports of the package's modules under the rule in this file's docstring."""
    problems = []
    seen_optional = set()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent)
        tool = TOOLS.get(path.relative_to(package).with_suffix("").parts[0])
        for name, line, lazy, guarded in imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not _third_party(name):
                continue
            where = f"{rel}:{line} imports {name}"
            if name in OPTIONAL:
                seen_optional.add(name)
                if not guarded:
                    problems.append(f"{where} without `except ImportError`, so it is not optional: declare it")
                continue
            dists = distributions_of(name)
            if not dists:
                problems.append(f"{where}, which is not installed here: its distribution is unknown")
                continue
            if tool:
                allowed, rule = groups["core"] | groups.get(tool, set()), f"dependencies or the {tool} extra"
            elif lazy or guarded:
                allowed, rule = groups["core"] | groups.get("data", set()), "dependencies or the data extra"
            else:
                allowed, rule = groups["core"], "[project] dependencies (it runs when the module is imported)"
            if not dists & allowed:
                problems.append(f"{where} ({', '.join(sorted(dists))}): not in {rule}")
    problems += [f"OPTIONAL lists {name}, which no module imports any more" for name in OPTIONAL.keys() - seen_optional]
    return problems


def notebook_code(path: Path) -> list[str]:
    """The code cells of a notebook as Python (IPython magics become ``get_ipython()`` calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    transform = TransformerManager().transform_cell
    return [transform("".join(c["source"])) for c in cells if c["cell_type"] == "code"]


def notebooks(root: Path = ROOT) -> list[Path]:
    return book_notebooks(root) + sorted((root / "solutions").glob("*/*.ipynb"))


def notebook_problems(groups: dict[str, set[str]], root: Path = ROOT) -> list[str]:
    """Imports of the notebooks that ``seqlab[data]`` does not provide."""
    provided = groups["core"] | groups.get("data", set())
    problems = []
    for path in notebooks(root):
        rel = path.relative_to(root)
        for number, code in enumerate(notebook_code(path)):
            tree = ast.parse(code)
            modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module]
            modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] == "seqlab" and len(parts) > 1 and parts[1] in TOOLS:
                    problems.append(f"{rel}, code cell {number}: imports {module} (the {TOOLS[parts[1]]} extra)")
            for name, *_ in imports(tree):
                if not _third_party(name) or name in KERNEL:
                    continue
                dists = distributions_of(name)
                if not dists:
                    problems.append(f"{rel}, code cell {number}: imports {name}, which is not installed here")
                elif not dists & provided:
                    problems.append(f"{rel}, code cell {number}: imports {name} ({', '.join(sorted(dists))}), "
                                    "which seqlab[data] does not install")
    return problems


@pytest.fixture(scope="module")
def groups() -> dict[str, set[str]]:
    return declared(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8")))


def test_every_import_of_the_package_is_declared(groups):
    problems = package_problems(groups)
    assert not problems, "pyproject.toml does not declare:\n" + "\n".join(problems)


def test_every_import_of_the_notebooks_comes_with_seqlab_data(groups):
    assert len(notebooks()) > 20
    problems = notebook_problems(groups)
    assert not problems, "\n".join(problems)


def test_the_rules_catch_what_they_should(groups, tmp_path):
    # A test that cannot fail is a bug: scipy (imported at module level by seqlab.baselines)
    # missing from the core dependencies, or only in the data extra, is reported.
    without = {**groups, "core": groups["core"] - {"scipy"}}
    assert any("baselines.py" in p and "scipy" in p for p in package_problems(without))
    in_data = {**without, "data": groups["data"] | {"scipy"}}
    assert any("baselines.py" in p and "scipy" in p for p in package_problems(in_data))
    # The same import inside a function may come from the data extra; in grading, from grade.
    package = tmp_path / "seqlab"
    (package / "grading").mkdir(parents=True)
    (package / "lazy.py").write_text("def f():\n    import scipy\n", encoding="utf-8")
    (package / "grading" / "tool.py").write_text("import nbgrader\nimport snownlp\n", encoding="utf-8")
    found = package_problems(in_data, package)
    assert not any("lazy.py" in p for p in found)
    assert [p for p in found if "tool.py" in p] == ["seqlab/grading/tool.py:2 imports snownlp (snownlp): "
                                                    "not in dependencies or the grade extra"]
    # A notebook's import that only the grade extra provides is reported.
    nb = {"cells": [{"cell_type": "code", "source": ["%matplotlib inline\n", "import nbgrader\n"]}]}
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "x.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    assert notebook_problems(groups, tmp_path) == ["book/x.ipynb, code cell 0: imports nbgrader (nbgrader), "
                                                   "which seqlab[data] does not install"]


def test_the_setup_cell_installs_seqlab_data_from_the_repository(root):
    # tests/test_course.py checks that every notebook's first cell equals setup_source(root);
    # this checks what that source asks pip for.
    url, branch = repository(root)
    lines = [line.strip() for line in setup_source(root).splitlines()]
    pip = [line for line in lines if line.startswith("%pip")]
    assert len(pip) == 1, pip
    match = re.fullmatch(r'%pip install -q "([^"]+)"', pip[0])
    assert match, pip[0]
    requirement = Requirement(match.group(1))
    assert requirement.name == "seqlab" and requirement.extras == {"data"} and not requirement.marker
    assert requirement.url == f"git+{url}@{branch}"
    assert assignment_sources_with_setup(root), "a03's set-up cell installs seqlab too"


# --- The set-up cell, run in IPython in a fresh virtualenv --------------------------------

DRIVER = textwrap.dedent('''
    """Run one cell in an IPython shell and record the shell commands it runs."""
    import json, sys, types

    source_file, mode, log_file = sys.argv[1:]
    if mode == "colab":  # what Colab's runtime has imported
        google = sys.modules.get("google") or types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        sys.modules["google"], sys.modules["google.colab"] = google, google.colab
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    calls, system = [], shell.system

    def recorded(cmd):
        calls.append(cmd)
        return system(cmd)

    shell.system = recorded
    with open(source_file, encoding="utf-8") as f:
        result = shell.run_cell(f.read())
    with open(log_file, "w", encoding="utf-8") as f:
        json.dump({"executable": sys.executable, "calls": calls, "exit_code": shell.user_ns.get("_exit_code"),
                   "error": repr(result.error_before_exec or result.error_in_exec)}, f)
''')


IMPORT_CHECK = textwrap.dedent('''
    """Import every lesson module of the installed seqlab and run the notebooks' imports."""
    import importlib, json, sys
    from pathlib import Path

    import seqlab

    tools, statements = set(sys.argv[1].split(",")), json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    package = Path(seqlab.__file__).parent
    modules = sorted(".".join(("seqlab", *p.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
                     for p in package.rglob("*.py"))
    modules = [m for m in modules if m == "seqlab" or m.split(".")[1] not in tools]
    failed = []
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as e:
            failed.append(f"import {module}: {type(e).__name__}: {e}")
    for statement in statements:
        try:
            exec(statement, {})
        except Exception as e:
            failed.append(f"{statement}: {type(e).__name__}: {e}")
    print(json.dumps({"file": seqlab.__file__, "modules": modules, "failed": failed}))
''')


def notebook_imports(root: Path = ROOT) -> list[str]:
    """Every import statement of the notebooks, once each, as source."""
    found = {}
    for path in notebooks(root):
        for code in notebook_code(path):
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.setdefault(ast.unparse(node))
    return list(found)


def _git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _snapshot(root: Path, target: Path, branch: str, env: dict[str, str]) -> str:
    """Commit the working tree (tracked and untracked, not ignored files) into a new repository
    at ``target`` on ``branch``, so uncommitted changes are what pip installs; returns the commit."""
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=root, env=env)
    target.mkdir()
    for rel in sorted(set(filter(None, listed.split("\0")))):
        source = root / rel
        if source.is_file():  # a tracked file deleted in the working tree stays out
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    _git("init", "-q", "-b", branch, cwd=target, env=env)
    _git("add", "-A", cwd=target, env=env)
    _git("-c", "user.name=seqlab tests", "-c", "user.email=tests@seqlab.invalid", "commit", "-q", "-m", "working tree",
         cwd=target, env=env)
    return _git("rev-parse", "HEAD", cwd=target, env=env)


def _wheelhouse(cache: Path, build_requires: list[str]) -> Path:
    """A folder holding the build backend: setuptools, the version this environment has (it
    meets [build-system] requires, checked), downloaded once by pip and kept in pytest's cache."""
    pinned = f"setuptools=={version('setuptools')}"
    for requirement in build_requires:
        assert Requirement(requirement).specifier.contains(version(Requirement(requirement).name)), \
            f"this environment's {Requirement(requirement).name} does not meet [build-system] {requirement}"
    if not list(cache.glob(f"setuptools-{version('setuptools')}-*.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--dest", str(cache), pinned], check=True)
    return cache


def requirement_closure(requirements: list[str]) -> list[Distribution]:
    """The installed distributions that ``requirements`` need, transitively, with the markers
    (extras included) evaluated here; seqlab itself is left out."""
    found: dict[str, Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo = [(Requirement(r), {""}) for r in requirements]
    missing = []
    while todo:
        req, extras = todo.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras):
            continue
        name = canonicalize_name(req.name)
        wanted = {""} | {canonicalize_name(e) for e in req.extras}
        if name == "seqlab" or all((name, e) in done for e in wanted):
            continue
        done |= {(name, e) for e in wanted}
        try:
            dist = found.setdefault(name, distribution(req.name))
        except PackageNotFoundError:
            missing.append(str(req))
            continue
        todo += [(Requirement(r), wanted) for r in dist.requires or []]
    assert not missing, f"not installed here, so the fresh venv cannot see them: {missing}"
    return list(found.values())


def _fresh_venv(path: Path, requirements: list[str]) -> tuple[Path, Path]:
    """A new virtualenv (its own pip) that also sees, through a .pth file, the installed
    distributions that ``requirements`` need and nothing else: the fresh venv has what
    ``pip install "seqlab[data]"`` would bring, without downloading torch. Returns its python
    and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    for entry in site.iterdir():  # ensurepip's old setuptools would hide ours (torch needs setuptools>=77)
        if entry.name.startswith(("setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence")):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    view = path / "project-packages"
    view.mkdir()
    for dist in requirement_closure(requirements):
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD: cannot tell its files"
        base = Path(dist.locate_file(""))
        for top in {f.parts[0] for f in dist.files if f.parts and f.parts[0] != ".."}:
            if top != "__pycache__" and not top.endswith(".pth") and not (view / top).exists():
                (view / top).symlink_to(base / top)
    (site / "project-packages.pth").write_text(f"{view}\n", encoding="utf-8")
    return python, site


@pytest.mark.slow
def test_the_colab_setup_cell_installs_seqlab_from_the_repository(root, tmp_path, request):
    url, branch = repository(root)
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    cell = json.loads((root / "book" / "01-embedding" / "02-skip-gram.ipynb").read_text(encoding="utf-8"))["cells"][0]
    assert SETUP_TAG in cell["metadata"].get("tags", [])
    source = "".join(cell["source"])
    assert source == setup_source(root)
    (tmp_path / "cell.py").write_text(source, encoding="utf-8")
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")

    # git: the repository URL goes to a snapshot of this working tree; any other URL goes nowhere.
    git_env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PIP_", "PYTHON"))}
    git_env |= {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    commit = _snapshot(root, tmp_path / "repo", branch, git_env)
    rewrites = {(tmp_path / "repo").as_uri(): url}
    rewrites |= {(tmp_path / "nowhere").as_uri() + "/" + scheme: scheme
                 for scheme in ("https://", "http://", "ssh://", "git://", "git@")}
    git_env["GIT_CONFIG_COUNT"] = str(len(rewrites))
    for i, (target, prefix) in enumerate(rewrites.items()):
        git_env[f"GIT_CONFIG_KEY_{i}"], git_env[f"GIT_CONFIG_VALUE_{i}"] = f"url.{target}.insteadOf", prefix

    wheelhouse = _wheelhouse(request.config.cache.mkdir("seqlab-wheelhouse"), pyproject["build-system"]["requires"])
    # What seqlab[data] needs, and the IPython kernel the cell runs in (Colab has it).
    project = pyproject["project"]
    needs = [*project["dependencies"], *project["optional-dependencies"]["data"], "ipython"]
    python, site = _fresh_venv(tmp_path / "venv", needs)
    # pip: no index, only the wheelhouse; no user configuration or cache; no proxy that works.
    env = git_env | {
        "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(python.parent.parent),
        "PYTHONNOUSERSITE": "1", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_CONFIG_FILE": os.devnull, "PIP_CACHE_DIR": str(tmp_path / "pip-cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_RETRIES": "0", "PIP_LOG": str(tmp_path / "pip.log"),
        "PIP_REPORT": str(tmp_path / "report.json"),
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
    }

    def run_cell(mode: str) -> dict:
        log = tmp_path / f"{mode}.json"
        done = subprocess.run([str(python), str(tmp_path / "driver.py"), str(tmp_path / "cell.py"), mode, str(log)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        pip_log = (tmp_path / "pip.log").read_text(encoding="utf-8") if (tmp_path / "pip.log").exists() else ""
        assert done.returncode == 0 and log.exists(), done.stdout + done.stderr + pip_log[-4000:]
        record = json.loads(log.read_text(encoding="utf-8"))
        assert record["executable"] == str(python) and record["error"] == "None", record
        return record | {"output": done.stdout + done.stderr, "pip_log": pip_log}

    before = sorted(p.name for p in site.iterdir())
    # Off Colab the cell does nothing: no shell command, no pip, nothing installed.
    off = run_cell("local")
    assert off["calls"] == [] and off["exit_code"] is None and off["pip_log"] == "", off
    assert sorted(p.name for p in site.iterdir()) == before

    on = run_cell("colab")
    assert len(on["calls"]) == 1 and on["calls"][0].split()[:4] == [str(python), "-m", "pip", "install"], on["calls"]
    assert on["exit_code"] == 0, on["output"] + on["pip_log"][-4000:]
    # Nothing but seqlab came in, and it came from the snapshot's commit under the original URL.
    added = sorted(set(p.name for p in site.iterdir()) - set(before))
    dist_info = f"seqlab-{pyproject['project']['version']}.dist-info"
    assert added == sorted(["seqlab", dist_info]), added
    assert sorted(set(before) - set(p.name for p in site.iterdir())) == []
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    installed = {item["metadata"]["name"]: item for item in report["install"]}
    assert list(installed) == ["seqlab"], list(installed)
    assert installed["seqlab"]["requested"] and installed["seqlab"]["requested_extras"] == ["data"]
    direct_url = json.loads((site / dist_info / "direct_url.json").read_text(encoding="utf-8"))
    assert direct_url == {"url": url, "vcs_info": {"vcs": "git", "requested_revision": branch, "commit_id": commit}}
    assert installed["seqlab"]["download_info"] == direct_url
    # The build backend came from the wheelhouse.
    wheel = next(wheelhouse.glob(f"setuptools-{version('setuptools')}-*.whl"))
    assert wheel.name in on["pip_log"], on["pip_log"][-4000:]

    # In the fresh venv, seqlab comes from its own site-packages (not from source/), and every
    # lesson module and every import statement of the notebooks works.
    statements = (tmp_path / "imports.json")
    statements.write_text(json.dumps(notebook_imports()), encoding="utf-8")
    plain = {k: v for k, v in env.items() if not k.startswith(("PIP_", "GIT_"))} | {"MPLBACKEND": "Agg"}
    done = subprocess.run([str(python), "-c", IMPORT_CHECK, ",".join(TOOLS), str(statements)], cwd=tmp_path,
                          env=plain, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert Path(result["file"]) == site / "seqlab" / "__init__.py"
    assert len(result["modules"]) > 30 and "seqlab.baselines" in result["modules"]
    assert result["failed"] == [], "\n".join(result["failed"])
