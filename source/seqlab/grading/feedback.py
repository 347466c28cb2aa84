"""Preprocessors that ``nbgrader_config.py`` adds to nbgrader.

:class:`FeedbackSanitizer` runs when nbgrader writes feedback HTML. The autograded notebook holds
the hidden tests (nbgrader restores them before running), and the student's code ran next to
them: it could print them, raise them as an error message, or keep them and print them later.
So the feedback shows, besides the student's own cells and the scores:

* hidden-test regions removed from every cell's source;
* for every graded test cell, only pass or fail: at most one error, its name only if it is a
  built-in exception, its message only if the instructor wrote it (a message of an ``assert`` or
  ``raise`` in that cell; f-string fields only where their value looks like numbers or shapes), or
  a first line known from ``torch.testing`` / ``numpy.testing``; otherwise a fixed sentence;
* no output of any cell run after the first cell with hidden tests (a note says so);
* and, as a last check, no output anywhere that contains a line of a hidden test.

Student HTML (markdown cells, ``display(HTML(...))``) is cleaned by nbconvert's ``SanitizeHTML``,
also named in ``nbgrader_config.py``.
"""

from __future__ import annotations

import ast
import builtins
import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Integer, Unicode

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
BUILTIN_ERRORS = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
INTEGRITY = "GradingIntegrityError"
NOT_SHOWN = "（這則訊息來自你的程式碼，回饋不顯示；請在自己的筆記本執行自我檢查，看完整的錯誤。）"
LATER = "（批改時這一格的輸出不放進回饋：它在隱藏測試之後執行。在自己的環境重新執行即可看到。）"
REDACTED = "（這段輸出含有隱藏測試的內容，已從回饋移除。）"
LIBRARY_FIRST_LINES = re.compile(
    r"^(Tensor-likes are not (close|equal)!|Scalars are not (close|equal)!|Not equal to tolerance rtol=\S+, atol=\S+"
    r"|Arrays are not (almost )?equal.*|The values for attribute '\w+' do not match[^\n]{0,80})$")
_FIELD = r"[-+0-9.,:()\[\]eE ]{0,60}|True|False|None|nan|inf|-inf"  # what an f-string field may show


def _messages(source: str) -> tuple[set[str], list[re.Pattern]]:
    """The messages the instructor wrote in a test cell: constants, and patterns for f-strings."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    except Exception:
        return set(), []
    constants, patterns = set(), []
    nodes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            nodes.append(node.msg)
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            nodes.append(node.exc.args[0])
    for msg in nodes:
        if isinstance(msg, ast.Constant) and isinstance(msg.value, str):
            constants.add(msg.value)
        elif isinstance(msg, ast.JoinedStr):
            parts = [re.escape(v.value) if isinstance(v, ast.Constant) else f"(?:{_FIELD})" for v in msg.values]
            patterns.append(re.compile("".join(parts), re.DOTALL))
    return constants, patterns


class FeedbackSanitizer(Preprocessor):
    """Strip hidden tests, and everything student code could have put near them, from feedback."""

    enabled = Bool(True).tag(config=True)  # nbconvert registers preprocessor classes disabled
    begin = Unicode("### BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("### END HIDDEN TESTS").tag(config=True)
    min_line = Integer(12).tag(config=True)  # hidden lines at least this long are searched in outputs

    def strip_hidden(self, source: str) -> str:
        out, hidden = [], False
        for line in source.split("\n"):
            if self.begin in line:
                hidden = True
            elif self.end in line:
                hidden = False
            elif not hidden:
                out.append(line)
        return "\n".join(out)

    def hidden_lines(self, source: str) -> set[str]:
        kept = {ln.strip() for ln in self.strip_hidden(source).split("\n")}
        every = {ln.strip() for ln in source.split("\n")}
        return {ln for ln in every - kept if len(ln) >= self.min_line and self.begin not in ln and self.end not in ln}

    @staticmethod
    def _is_test(cell) -> bool:
        meta = cell.metadata.get("nbgrader", {})
        return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")

    def reduce_error(self, output, source: str):
        ename = output.get("ename", "Error")
        evalue = _ANSI.sub("", str(output.get("evalue", "")))
        if ename == INTEGRITY:
            from seqlab.grading.guard import MESSAGE

            shown = MESSAGE if evalue == MESSAGE else NOT_SHOWN
        else:
            constants, patterns = _messages(source)
            first = evalue.split("\n", 1)[0]
            if evalue == "" or evalue in constants or any(p.fullmatch(evalue) for p in patterns):
                shown = evalue
            elif LIBRARY_FIRST_LINES.match(first):
                shown = first
            else:
                shown = NOT_SHOWN
            ename = ename if ename in BUILTIN_ERRORS else "Error"
        output["ename"], output["evalue"], output["traceback"] = ename, shown, [f"{ename}: {shown}"]
        return output

    def preprocess(self, nb, resources):
        hidden: set[str] = set()
        after_hidden = False
        for cell in nb.cells:
            has_hidden = self.begin in cell.source
            if has_hidden:
                hidden |= self.hidden_lines(cell.source)
            if cell.cell_type == "code":
                if self._is_test(cell) or has_hidden:
                    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
                    integrity = [o for o in errors if o.get("ename") == INTEGRITY]
                    cell.outputs = [self.reduce_error((integrity or errors)[0], cell.source)] if errors else []
                elif after_hidden and cell.outputs:
                    cell.outputs = [_note(LATER)]
            if has_hidden:
                cell.source = self.strip_hidden(cell.source)
                after_hidden = True
        for cell in nb.cells:  # the last check: no hidden line in any output, however it got there
            if cell.cell_type == "code":
                cell.outputs = [_note(REDACTED) if _contains(o, hidden) else o for o in cell.outputs]
        return nb, resources


def _note(text: str):
    from nbformat.v4 import new_output

    return new_output("stream", name="stdout", text=text + "\n")


def _contains(output, lines: set[str]) -> bool:
    texts = [str(output.get("text", "")), str(output.get("evalue", "")), "\n".join(map(str, output.get("traceback", [])))]
    texts += [v if isinstance(v, str) else "".join(v) if isinstance(v, list) else "" for v in output.get("data", {}).values()]
    blob = "\n".join(texts)
    flat = re.sub(r"\s+", "", blob)
    return any(ln in blob or re.sub(r"\s+", "", ln) in flat for ln in lines)


class TruncateOutput(Preprocessor):
    """Cut every text output of an autograded notebook to ``max_chars`` characters.

    nbgrader's ``LimitOutput`` counts lines, so ``print("x" * 50_000_000)`` (one line) would make
    a 50 MB notebook and feedback page. This keeps the start and says how much was cut.
    """

    enabled = Bool(True).tag(config=True)
    max_chars = Integer(20_000).tag(config=True)

    def _cut(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return text[: self.max_chars] + f"\n[... {len(text) - self.max_chars:,} more characters cut by the grader]\n"

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if "text" in output:
                text = output["text"] if isinstance(output["text"], str) else "".join(output["text"])
                output["text"] = self._cut(text)
            for mime, value in list(output.get("data", {}).items()):
                if mime.startswith("text/") and isinstance(value, str):
                    output["data"][mime] = self._cut(value)
        return cell, resources
