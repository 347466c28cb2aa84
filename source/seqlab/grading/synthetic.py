"""A synthetic class: the solution handed in by many students, every way a real class breaks, and
every attack on the grader we know of (:data:`ATTACKS`, :data:`CHEATS`).

``python -m seqlab.grading demo`` builds one in a scratch course folder so an instructor can try
``collect → grade → feedback → export`` end to end; the tests and ``make bench`` use it too.
Nothing here is committed: the submissions are made from ``solutions/`` on the fly.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat

from seqlab.grading.batch import nbgrader

SNOOP = '''
import pathlib
_up = (pathlib.Path.cwd(), *pathlib.Path.cwd().parents)
_found = [str(p) for d in _up for p in d.glob("solutions/*/*.ipynb")][:3]
_db = [p for d in _up for p in d.glob("gradebook.db")][:1]
_peers = [str(p) for d in _up for p in d.glob("submitted/*/*/*.ipynb")][:3]
print("SNOOP solutions:", _found)
print("SNOOP hidden tests in gradebook:", [b"BEGIN HIDDEN" in p.read_bytes() for p in _db])
print("SNOOP other submissions:", _peers)
'''

BROKEN = ("colab", "deleted_test", "moved_test", "type_changed", "inserted_dup", "edited_test", "untouched",
          "infinite", "exception", "huge_output", "not_json", "not_notebook", "snoop", "kill_worker")
KILL = "\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)  # takes its grading process down\n"

# Attacks by a student who has read seqlab.grading. Each is appended to the first answer cell (after a
# correct answer) and prints one "ATTACK <name>: ..." line that the tests read in the autograded notebook.
_COURSE = "import pathlib\n_course = pathlib.Path.cwd().parents[2]  # autograded/<student>/<assignment>\n"
ATTACKS = {
    "unmount": _COURSE + """import subprocess
_codes = [subprocess.run(["umount", "-l", str(_course / d)], capture_output=True).returncode
          for d in ("solutions", "submitted", "autograded", "gradebook.db")]
_seen = sorted(str(p) for p in [*_course.glob("solutions/*/*"), *_course.glob("gradebook.db"), *_course.glob("submitted/*")])
print("ATTACK unmount:", "umount ok" if 0 in _codes else "umount refused", "seen", _seen)
""",
    "write": _COURSE + """import os, sys, sysconfig, seqlab
_targets = {"config": _course / "nbgrader_config.py", "exercises": _course / "exercises" / "evil.txt",
            "kernelspec": _course / ".grading" / "kernels" / "seqlab-sandbox" / "kernel.json",
            "package": pathlib.Path(seqlab.__file__).parent / "evil.py",
            "site": pathlib.Path(sysconfig.get_paths()["purelib"]) / "evil.pth",
            "cache": pathlib.Path(os.environ.get("SEQLAB_DATA", "/nonexistent")) / "tang-poison.json",
            "peer": _course / "submitted" / "good_000" / "evil.txt",
            "host_startup": pathlib.Path("/root/.ipython/profile_default/startup/evil.py")}
_result = {}
for _name, _path in _targets.items():
    try:
        _path.parent.mkdir(parents=True, exist_ok=True)
        _path.write_text("import os; os.system('echo pwned')")
        _result[_name] = "written"
    except OSError as e:
        _result[_name] = type(e).__name__
_home = pathlib.Path.home() / ".ipython" / "profile_default" / "startup"
_home.mkdir(parents=True, exist_ok=True)
(_home / "evil.py").write_text("print('pwned')")  # private $HOME: gone with this kernel
print("ATTACK write:", sorted(k for k, v in _result.items() if v == "written"), "home", str(pathlib.Path.home()))
""",
    "read": _COURSE + """_names = [".git", "grades.csv", "grading-report.csv", "gradebook.db", "nbgrader_config.py", "solutions",
          "a01-embedding.ipynb", "a01-embedding.ipynb.as-submitted"]
_found = [n for n in _names if (_course / n).exists() or pathlib.Path(n).exists()]
try:
    open("a01-embedding.ipynb").read()
    _own = "read"
except OSError as e:
    _own = type(e).__name__
print("ATTACK read:", _found, "own notebook", _own)
""",
    "network": """import socket
_r = []
for _addr in (("1.1.1.1", 53), ("pypi.org", 443), ("127.0.0.1", 22)):
    try:
        socket.create_connection(_addr, timeout=3).close()
        _r.append("connected")
    except OSError as e:
        _r.append(type(e).__name__)
print("ATTACK network:", _r)
""",
    "memory": """try:
    _big = bytearray(6 * 2**30)
    print("ATTACK memory: allocated 6 GiB")
    del _big
except MemoryError:
    print("ATTACK memory: MemoryError")
""",
    "processes": """import os, time
_kids = []
try:
    for _ in range(400):
        _pid = os.fork()
        if _pid == 0:
            time.sleep(30)
            os._exit(0)
        _kids.append(_pid)
except OSError as e:
    pass
for _pid in _kids:
    os.kill(_pid, 9)
    os.waitpid(_pid, 0)
print("ATTACK processes:", "limited" if len(_kids) < 400 else "unlimited", len(_kids))
""",
    "orphan": """import subprocess
subprocess.Popen(["sh", "-c", "(exec -a seqlab-orphan-marker sleep 600) &"], start_new_session=True)
print("ATTACK orphan: started")
""",
    "file_size": """try:
    with open("big.bin", "wb") as _f:
        _f.write(b"x" * (64 << 20))
    print("ATTACK file_size: wrote 64 MiB")
except OSError as e:
    print("ATTACK file_size:", type(e).__name__)
""",
    "threads": """import os, torch
print("ATTACK threads:", torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS"))
""",
    "kill_all": """import os, signal
print("ATTACK kill_all: sending")
os.kill(-1, signal.SIGKILL)  # every process this kernel can reach
""",
}
# Wrong answers that try to pass anyway, and ways to leak the hidden tests into the feedback.
WRONG_ONE_HOT = """
def one_hot(ids, vocab_size):  # right shape, dtype and errors, wrong values
    if vocab_size < 1 or (ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size)):
        raise ValueError("bad input")
    return torch.zeros(*ids.shape, vocab_size)
"""
CHEATS = {
    "fake_equal": WRONG_ONE_HOT + "torch.equal = lambda *a, **k: True\n",
    "fake_builtins": WRONG_ONE_HOT + "import builtins\nbuiltins.round = lambda *a, **k: 0\n",
    "fake_module": WRONG_ONE_HOT + "import sys, types\n_fake = types.ModuleType('math')\nsys.modules['math'] = _fake\n",
    "suppress_errors": WRONG_ONE_HOT + "get_ipython().showtraceback = lambda *a, **k: None\n",
    "partial_credit": WRONG_ONE_HOT.replace("    return torch.zeros", "    get_ipython().displayhook(2.0)\n    return torch.zeros"),
    "raise_hidden": """
def one_hot(ids, vocab_size):  # the error message is the source of the test cell calling it
    raise ValueError(get_ipython().user_ns["In"][-1])
""",
    "keep_hidden": """
_kept = []
get_ipython().events.register("pre_run_cell", lambda info: _kept.append(info.raw_cell))
""",
    "html": """
from IPython.display import HTML, display
display(HTML("<b>hi</b><script>window.seqlabXss = 1</script><img src=x onerror=alert(1)>"))
""",
}
LATER = {"keep_hidden": "\nimport base64\nprint('KEPT', [base64.b64encode(c.encode()).decode() for c in _kept], _kept)\n"}
XSS_MARKDOWN = "<script>window.seqlabXss = 2</script>\n\n<img src=x onerror=alert(2)> **markdown**"


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def answered(source: Path, release: Path) -> nbformat.NotebookNode:
    """The released notebook with every answer cell filled in from the instructor's source."""
    answers = {_meta(c)["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
               if _meta(c).get("solution")}
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        if _meta(cell).get("grade_id") in answers:
            cell.source = answers[_meta(cell)["grade_id"]]
    return nb


def variants(good: nbformat.NotebookNode, blank: nbformat.NotebookNode) -> dict[str, bytes]:
    """File contents for each kind of broken submission in :data:`BROKEN` (plus good and blank)."""
    out = {"good": nbformat.writes(good).encode(), "blank": nbformat.writes(blank).encode()}
    tests = [i for i, c in enumerate(good.cells) if _meta(c).get("grade")]
    answers = [i for i, c in enumerate(good.cells) if _meta(c).get("solution")]

    def edit(change) -> bytes:
        nb = copy.deepcopy(good)
        change(nb)
        return nbformat.writes(nb).encode()

    colab = json.loads(nbformat.writes(good))
    colab["nbformat_minor"] = 0
    colab["metadata"].update({"colab": {"provenance": [], "name": "notebook.ipynb"}, "accelerator": "GPU"})
    for cell in colab["cells"]:
        cell.pop("id", None)
        if cell["cell_type"] == "code":
            cell["metadata"]["executionInfo"] = {"elapsed": 12, "status": "ok", "timestamp": 1700000000000}
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["saved output\n"]}]
            cell["execution_count"] = 1
    out["colab"] = json.dumps(colab).encode()
    out["deleted_test"] = edit(lambda nb: nb.cells.pop(tests[0]))
    out["moved_test"] = edit(lambda nb: nb.cells.append(nb.cells.pop(tests[0])))

    def to_markdown(nb):
        cell = nb.cells[tests[0]]
        nb.cells[tests[0]] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)

    out["type_changed"] = edit(to_markdown)

    def insert_and_duplicate(nb):
        nb.cells.insert(answers[0], nbformat.v4.new_code_cell("scratch = 1  # a cell the student added"))
        nb.cells.insert(answers[1] + 2, copy.deepcopy(nb.cells[answers[1] + 1]))

    out["inserted_dup"] = edit(insert_and_duplicate)
    out["edited_test"] = edit(lambda nb: setattr(nb.cells[tests[0]], "source", "pass  # tests removed"))
    out["untouched"] = out["blank"]
    out["infinite"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source",
                                              nb.cells[answers[0]].source + "\nwhile True:\n    pass\n"))
    out["exception"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source", "raise RuntimeError('boom')"))
    out["huge_output"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source",
                                                 nb.cells[answers[0]].source + "\nprint('x' * 20_000_000)\n"))
    out["not_json"] = b"{ this is not JSON"
    out["not_notebook"] = b'{"hello": "a file that is not a notebook"}'
    out["kill_worker"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source", nb.cells[answers[0]].source + KILL))
    out["snoop"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source", nb.cells[answers[0]].source + SNOOP))
    for name, code in ATTACKS.items():
        out[f"attack_{name}"] = edit(lambda nb, code=code: setattr(nb.cells[answers[0]], "source",
                                                                   nb.cells[answers[0]].source + "\n" + code))

    def cheat(nb, name):
        cell = nb.cells[answers[0]]
        cell.source = cell.source + "\n" + CHEATS[name]
        if name in LATER:
            nb.cells[answers[1]].source += LATER[name]
        if name == "html":
            nb.cells.insert(answers[0], nbformat.v4.new_markdown_cell(XSS_MARKDOWN))

    for name in CHEATS:
        out[f"cheat_{name}"] = edit(lambda nb, name=name: cheat(nb, name))
    return out


HOSTILE = tuple(f"attack_{n}" for n in ATTACKS) + tuple(f"cheat_{n}" for n in CHEATS)


def make_course(root: Path, course: Path, assignment: str, n_good: int = 0, broken: bool = True,
                hostile: bool = True) -> list[str]:
    """A scratch course in ``course`` (config and solutions copied from ``root``), ``assignment``
    released, and submissions: ``good_000``… handing in the solution, plus the broken kinds.
    Returns the student ids."""
    if course.exists():
        shutil.rmtree(course)
    course.mkdir(parents=True)
    shutil.copy(root / "nbgrader_config.py", course)
    shutil.copytree(root / "solutions", course / "solutions")
    proc = nbgrader(course, "generate_assignment", assignment, "--force")
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    source = course / "solutions" / assignment / f"{assignment}.ipynb"
    release = course / "exercises" / assignment / f"{assignment}.ipynb"
    files = variants(answered(source, release), nbformat.read(release, as_version=4))
    chosen = {f"good_{i:03d}": files["good"] for i in range(n_good)}
    if broken:
        chosen.update({"blank": files["blank"], **{name: files[name] for name in BROKEN}})
    if hostile:
        chosen.update({name: files[name] for name in HOSTILE})
    for student, data in chosen.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return sorted(chosen)
