"""Preprocessors that ``nbgrader_config.py`` adds to nbgrader.

:class:`FeedbackSanitizer` runs when nbgrader writes feedback HTML. The autograded notebook
holds the hidden tests (nbgrader restores them before running), and a failing hidden test's
traceback quotes the lines around the failure; both would show in the feedback. The sanitizer
removes the hidden-test regions from every cell and reduces each error output to its last
line (``AssertionError: <the test's message>``), so students learn *what* failed, not *how*
it was tested.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Integer, Unicode

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FeedbackSanitizer(Preprocessor):
    """Strip hidden tests and traceback bodies from a notebook before it becomes feedback."""

    enabled = Bool(True).tag(config=True)  # nbconvert registers preprocessor classes disabled
    begin = Unicode("### BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("### END HIDDEN TESTS").tag(config=True)

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

    def preprocess_cell(self, cell, resources, index):
        if self.begin in cell.source:
            cell.source = self.strip_hidden(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                message = f"{output.get('ename', 'Error')}: {_ANSI.sub('', str(output.get('evalue', '')))}"
                output["traceback"] = [message]
        return cell, resources


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
