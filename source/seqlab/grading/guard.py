"""Scores that student code cannot fake: nbgrader's ``Execute`` with an integrity check.

Student code and the tests run in one Python process, so a submission can try to pass a test
without solving it: replace the comparison the test calls (``torch.allclose = lambda *a, **k:
True``), swap a module in ``sys.modules``, patch ``builtins``, silence IPython's exception
handling or the kernel's reply, or emit a number that nbgrader would read as partial credit.
:class:`GuardedExecute` (named in ``nbgrader_config.py``) runs, besides the notebook's cells,

* a **baseline probe** before the first cell: the identity of every builtin, of the comparison and
  reference functions tests use (torch, numpy, math, operator, their testing modules), of the
  ``torch.Tensor`` and ``nn.Module`` methods, of the modules in ``sys.modules``, and of IPython's
  and the kernel's execution and exception machinery;
* the same **probe after every graded test cell**, compared with the baseline by the grader (outside
  the kernel). It also looks for library functions replaced by code written in the notebook, trace
  and profile hooks, import hooks, IPython event callbacks, input and AST transformers and threads
  started by the submission.

From the first test cell after which anything differs, every graded test cell scores 0 (an error
output ``GradingIntegrityError``), and the reasons are written to the record the batch reads: the
submission is "needs review" in ``grading-report.csv``. Test cells are pass/fail: an
``execute_result`` in a test cell (which nbgrader would read as partial credit) is dropped.

The probe runs in the student's process, so this is detection, not proof: a student who first
replaces the kernel's own execution loop could answer the probe with a lie. The probe checks that
loop too, and :func:`scan` flags, before grading, the code that such tricks need (frames,
``sys.modules``, ``gc``, ``ctypes``, ``exec`` of built strings, ...); the report then says so.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

RECORD_ENV = "SEQLAB_GUARD_RECORD"
ENAME = "GradingIntegrityError"
MESSAGE = "批改環境在這一格之前被程式修改過（例如比較函式、sys.modules 或例外處理），這一格不計分；助教會人工複查。"

# Runs in the kernel. Prints one line: the nonce, then JSON {"ids": {...}, "untrusted": [...]}.
PROBE = r'''
def _seqlab_probe(nonce):
    import sys, json, types, threading, warnings, gc, builtins
    trusted_roots = tuple({roots!r})
    def trusted_file(name):
        # "<string>": dataclass and namedtuple methods (exec'd); scan() flags exec in students' code
        return name.startswith(trusted_roots) or name.startswith("<frozen ") or name == "<string>"
    def trusted(obj):
        code = getattr(getattr(obj, "__func__", obj), "__code__", None)
        return code is None or trusted_file(code.co_filename)
    ids, wraps, untrusted = {{}}, {{}}, []
    def watch(prefix, namespace, names=None):
        for name in (names if names is not None else list(namespace)):
            if name in namespace:
                value = namespace[name]
                ids[prefix + name] = id(value)
                inner = getattr(value, "__wrapped__", None)  # e.g. torch._dynamo wraps torch.manual_seed
                if inner is not None and type(value) is types.FunctionType and trusted(value):
                    wraps[prefix + name] = id(inner)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import importlib, importlib.util
        for name in {modules!r}:
            if name not in sys.modules and importlib.util.find_spec(name.split(".")[0]) is not None:
                try:
                    importlib.import_module(name)
                except Exception:
                    pass
        ids["sys.modules"] = id(sys.modules)
        for name in {modules!r} + ("builtins", "sys", "IPython", "ipykernel.ipkernel", "ipykernel.zmqshell"):
            ids["module " + name] = id(sys.modules.get(name))
        ids["module dict builtins"] = id(vars(builtins))
        watch("builtins.", vars(builtins), [n for n in vars(builtins) if n not in {volatile!r}])
        for name in ("math", "operator", "torch.testing", "numpy.testing", "torch.nn.functional"):
            if name in sys.modules:
                watch(name + ".", vars(sys.modules[name]), [n for n in vars(sys.modules[name]) if not n.startswith("__")])
        for name, attrs in {attrs!r}.items():
            if name in sys.modules:
                watch(name + ".", vars(sys.modules[name]), attrs)
        for path in ("torch.Tensor", "torch.nn.Module", "torch.nn.modules.module.Module"):
            mod, _, cls = path.rpartition(".")
            if mod in sys.modules and hasattr(sys.modules[mod], cls):
                watch(path + ".", vars(getattr(sys.modules[mod], cls)))
        for name in ("stdout", "stderr", "settrace", "setprofile", "gettrace", "__excepthook__"):
            ids["sys." + name] = id(getattr(sys, name, None))
        for name in ("excepthook", "displayhook"):
            if not trusted(getattr(sys, name, None)):
                untrusted.append("sys." + name + " set by the notebook")
        shell = sys.modules["IPython"].get_ipython()
        cls = type(shell)
        ids["shell"] = id(shell)
        ids["shell class"] = id(cls)
        for name in {shell_methods!r}:
            ids["shell class." + name] = id(getattr(cls, name, None))
            ids["shell." + name] = id(vars(shell).get(name))
        for name in ("displayhook", "display_pub", "InteractiveTB", "SyntaxTB", "compile", "kernel",
                     "input_transformer_manager", "builtin_trap", "display_trap"):
            ids["shell." + name] = id(getattr(shell, name, None))
        ids["shell.CustomTB"] = id(getattr(shell, "CustomTB", None))
        ids["shell.custom_exceptions"] = repr(shell.custom_exceptions)
        kernel = shell.kernel
        for name in {kernel_methods!r}:
            ids["kernel class." + name] = id(getattr(type(kernel), name, None))
            ids["kernel." + name] = id(vars(kernel).get(name))
        for name, handler in getattr(kernel, "shell_handlers", {{}}).items():
            ids["kernel handler " + name] = id(getattr(handler, "__func__", handler))
        ids["kernel.session"] = id(kernel.session)
        ids["session class.send"] = id(getattr(type(kernel.session), "send", None))
        if "send" in vars(kernel.session) or "serialize" in vars(kernel.session):
            untrusted.append("kernel session send replaced on the instance")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            untrusted.append("a trace or profile function is set (sys.settrace / sys.setprofile)")
        if getattr(threading, "_trace_hook", None) or getattr(threading, "_profile_hook", None):
            untrusted.append("a thread trace or profile hook is set")
        for hook in list(sys.meta_path) + list(sys.path_hooks) + list(gc.callbacks):
            if not trusted(hook) or not trusted_file(getattr(sys.modules.get(type(hook).__module__), "__file__", None) or "<frozen x>"):
                untrusted.append("import hook or gc callback from the notebook: " + repr(hook)[:80])
        for event, callbacks in shell.events.callbacks.items():
            for cb in callbacks:
                if not trusted(cb):
                    untrusted.append("IPython event callback from the notebook on " + event)
        for t in list(shell.ast_transformers) + list(shell.input_transformers_post) + \
                list(shell.input_transformer_manager.cleanup_transforms) + \
                list(shell.input_transformer_manager.line_transforms) + \
                list(shell.input_transformer_manager.token_transformers):
            if not trusted(t) and not trusted(getattr(t, "visit", None)) and not trusted(type(t).__init__):
                untrusted.append("an input or AST transformer from the notebook")
        for t in threading.enumerate():
            target = getattr(t, "_target", None) or getattr(type(t), "run", None)
            if not trusted(target):
                untrusted.append("a thread started by the notebook is running")
        for mod in list(sys.modules.values()):
            if mod is shell.user_module or getattr(mod, "__name__", "") == "__main__":
                continue
            space = getattr(mod, "__dict__", None)
            if not isinstance(space, dict) or not trusted_file(str(space.get("__file__") or "<frozen x>")):
                continue
            for key, value in list(space.items()):
                # (a function made at run time by the library itself, e.g. torch's generated modules, keeps
                # the module's name as __module__; one written in the notebook has "__main__")
                if type(value) is types.FunctionType and not trusted(value) and value.__module__ != space.get("__name__"):
                    untrusted.append("library function replaced by the notebook: " + space.get("__name__", "?") + "." + key)
                elif isinstance(value, type) and value.__dict__.get("__module__") == space.get("__name__"):
                    for k, v in list(value.__dict__.items()):
                        if type(v) is types.FunctionType and not trusted(v) and v.__module__ != space.get("__name__"):
                            untrusted.append("library method replaced by the notebook: " + value.__name__ + "." + k)
    print(nonce + json.dumps({{"ids": ids, "wraps": wraps, "untrusted": sorted(set(untrusted))[:20]}}))
_seqlab_probe({nonce!r})
del _seqlab_probe
'''
MODULES = ("math", "operator", "numpy", "numpy.testing", "torch", "torch.testing", "torch.nn.functional")
ATTRS = {
    "torch": ["allclose", "isclose", "equal", "eq", "ne", "all", "any", "abs", "max", "min", "sum", "mean", "argmax",
              "topk", "sort", "isnan", "isfinite", "isinf", "is_tensor", "tensor", "as_tensor", "from_numpy", "zeros",
              "ones", "arange", "randn", "rand", "manual_seed", "exp", "log", "softmax", "log_softmax", "matmul",
              "testing", "nn", "Tensor"],
    "numpy": ["allclose", "isclose", "array_equal", "array_equiv", "asarray", "array", "abs", "all", "any", "sum",
              "max", "min", "mean", "argmax", "exp", "log", "isnan", "isfinite", "testing", "linalg", "random", "ndarray"],
}
VOLATILE = ("get_ipython", "exit", "quit", "display", "input", "raw_input", "_", "__", "___", "help", "copyright", "credits", "license")
SHELL_METHODS = ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "showtraceback", "_showtraceback",
                 "showsyntaxerror", "showindentationerror", "get_exception_only", "_get_exc_info", "transform_cell",
                 "should_run_async", "set_custom_exc", "ex", "ev", "safe_execfile")
KERNEL_METHODS = ("do_execute", "execute_request", "dispatch_shell", "send_response", "_publish_execute_input",
                  "_publish_status", "_send_abort_reply", "process_one", "dispatch_queue")


def trusted_roots() -> list[str]:
    import seqlab

    roots = {sys.base_prefix, sys.prefix, os.path.dirname(seqlab.__file__),
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    return sorted({os.path.realpath(r) + os.sep for r in roots} | {r + os.sep for r in roots})


def probe_source(nonce: str) -> str:
    return PROBE.format(roots=trusted_roots(), modules=MODULES, volatile=VOLATILE, attrs=ATTRS,
                        shell_methods=SHELL_METHODS, kernel_methods=KERNEL_METHODS, nonce=nonce)


def is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` plus the integrity probe (see the module docstring)."""

    def preprocess(self, nb, resources=None, km=None):
        self._baseline: dict | None = None
        self._problems: list[str] = []
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            path = os.environ.get(RECORD_ENV)
            if path and self._problems:
                Path(path).write_text(json.dumps(self._problems, ensure_ascii=False), encoding="utf-8")

    def _probe(self, index: int) -> dict | None:
        nonce = f"seqlab-probe-{secrets.token_hex(16)}:"
        cell = nbformat.v4.new_code_cell(probe_source(nonce))
        original = self.nb.cells[index]
        try:
            self.execute_cell(cell, index, store_history=False)
        except Exception as e:  # a timeout or a dead kernel: no answer
            self.log.warning("integrity probe failed: %s", e)
            return None
        finally:
            self.nb.cells[index] = original  # nbclient stores the executed cell at its index
        for output in cell.outputs:
            text = output.get("text", "") if output.get("output_type") == "stream" else ""
            for line in text.splitlines():
                if line.startswith(nonce):
                    try:
                        return json.loads(line[len(nonce):])
                    except json.JSONDecodeError:
                        return None
        return None

    def compare(self, now: dict | None) -> list[str]:
        if now is None:
            return ["the integrity check got no answer from the kernel (its output or execution was intercepted)"]
        base = self._baseline["ids"]
        wraps = now.get("wraps", {})  # library code wrapping the original (functools.wraps) is no tampering
        changed = sorted(k for k, v in now["ids"].items() if k in base and base[k] != v and wraps.get(k) != base[k])
        return [f"replaced: {k}" for k in changed[:20]] + now.get("untrusted", [])

    def preprocess_cell(self, cell, resources, index):
        if self._baseline is None and cell.cell_type == "code":
            self._baseline = self._probe(index) or {"ids": {}}
        cell, resources = super().preprocess_cell(cell, resources, index)
        if not is_test(cell):
            return cell, resources
        cell.outputs = [o for o in cell.outputs if o.get("output_type") != "execute_result"]  # pass/fail only
        problems = self.compare(self._probe(index))
        if problems and not self._problems:
            grade_id = cell.metadata["nbgrader"].get("grade_id", f"cell {index}")
            self._problems = [f"from test cell {grade_id} on: {p}" for p in problems]
        if self._problems:
            cell.outputs.append(NotebookNode(output_type="error", ename=ENAME, evalue=MESSAGE,
                                             traceback=[f"{ENAME}: {MESSAGE}"]))
        return cell, resources


def clear_record(folder: Path) -> Path:
    record = folder.parent / f".{folder.name}.guard.json"
    record.unlink(missing_ok=True)
    return record


def read_record(folder: Path) -> list[str]:
    record = folder.parent / f".{folder.name}.guard.json"
    if not record.exists():
        return []
    try:
        return list(json.loads(record.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return ["the integrity record is unreadable"]


# -- before grading: what in the student's own code needs a second look ---------------------------

SUSPECT_NAMES = {
    "get_ipython": "uses the IPython shell (get_ipython)", "__builtins__": "changes or reads __builtins__",
    "builtins": "uses the builtins module", "settrace": "sets a trace function", "setprofile": "sets a profile function",
    "addaudithook": "adds an audit hook", "excepthook": "touches sys.excepthook", "_getframe": "inspects frames",
    "currentframe": "inspects frames", "f_back": "inspects frames", "f_globals": "inspects frames",
    "f_locals": "inspects frames", "get_referrers": "walks the garbage collector", "get_objects": "walks the garbage collector",
    "ctypes": "uses ctypes", "__import__": "imports by a computed name", "importlib": "imports by a computed name",
    "meta_path": "installs an import hook", "__code__": "edits code objects", "CodeType": "builds code objects",
    "__class__": "changes an object's class", "Thread": "starts a thread", "kill": "sends signals",
    "killpg": "sends signals", "fork": "forks processes", "displayhook": "calls the display hook",
}


def scan(source: str) -> list[str]:
    """Reasons why code written by a student touches the grading machinery (empty: nothing found)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
        tree = ast.parse(source)
    except Exception:
        return []
    reasons, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                modules.add(alias.asname or alias.name.split(".")[0])
                if alias.name.split(".")[0] in SUSPECT_NAMES:
                    reasons.append(SUSPECT_NAMES[alias.name.split(".")[0]])
        elif isinstance(node, ast.Name) and node.id in SUSPECT_NAMES:
            reasons.append(SUSPECT_NAMES[node.id])
        elif isinstance(node, ast.Attribute) and node.attr in SUSPECT_NAMES:
            reasons.append(SUSPECT_NAMES[node.attr])
        elif isinstance(node, ast.Attribute) and node.attr == "modules" and getattr(node.value, "id", None) == "sys":
            reasons.append("uses sys.modules")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("exec", "eval", "compile"):
            reasons.append(f"runs code built at run time ({node.func.id})")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("setattr", "delattr") and node.args:
            target = node.args[0]
            root = target
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in modules:
                reasons.append(f"changes module {root.id} with {node.func.id}")
    for node in ast.walk(tree):  # `torch.allclose = ...`: assigning into an imported module
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if root is not target and isinstance(root, ast.Name) and root.id in modules:
                reasons.append(f"assigns into module {root.id}")
    return sorted(set(reasons))


def scan_notebook(nb: NotebookNode) -> list[str]:
    """:func:`scan` over every cell a student could write (answer cells and cells they added)."""
    reasons = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or not meta.get("locked") and not meta.get("grade")):
            reasons += [f"{r} ({meta.get('grade_id', 'a cell the student added')})" for r in scan(cell.source)]
    return list(dict.fromkeys(reasons))


# -- before grading: the data cache, built once by trusted code ----------------------------------

def warm_cache(course: Path, assignment: str, timeout: int = 900) -> list[str]:
    """Run the instructor's solution of ``assignment`` once, outside the sandbox, so that every data
    file its kernels need is in the seqlab data cache (read-only for them) before the batch starts.
    Returns notes for the report (empty when it went well)."""
    source = course / "solutions" / assignment / f"{assignment}.ipynb"
    if not source.exists():
        return []
    code = ("import nbformat, sys; from nbclient import NotebookClient; nb = nbformat.read(sys.argv[1], 4); "
            "NotebookClient(nb, timeout=600, kernel_name='python3', allow_errors=True, "
            "resources={'metadata': {'path': sys.argv[2]}}).execute()")
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, NBGRADER_EXECUTION="autograde")
        try:
            proc = subprocess.run([sys.executable, "-c", code, str(source), scratch], env=env, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [f"warming the data cache with the solution of {assignment} took over {timeout} s"]
    if proc.returncode != 0:
        return [f"warming the data cache with the solution of {assignment} failed: {proc.stderr.strip()[-200:]}"]
    return []
