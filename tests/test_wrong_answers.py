"""Hidden tests make each plausible wrong answer lose exactly its task's points.

Each file tests/wrong_answers/<name>.py holds, for one assignment, ``ASSIGNMENT`` (its folder in
solutions/) and ``WRONG_ANSWERS``: for the grade_id of an answer cell, a list of
(description, source) pairs, the source being the whole answer cell as a student might hand it in.
In a temporary course folder, one submission per wrong answer is made from the solution (every
answer filled in, as ``answered()`` does) with exactly that one answer cell replaced; one
``nbgrader autograde`` call grades them all, and the gradebook must show the test cell of that
task at 0 and every other test cell at full points. The test cell of an answer cell is the first
graded cell after it. To cover another assignment, add a file next to the existing one (files whose
name starts with "_" are skipped; ``_edits.py`` holds their shared helper). Each file is graded in its
own course folder.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from seqlab.grading.synthetic import answered
from test_assignments import nbgrader

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p for p in (ROOT / "tests" / "wrong_answers").glob("*.py") if not p.name.startswith("_"))


def load(path: Path):
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # the files share tests/wrong_answers/_edits.py
    spec = importlib.util.spec_from_file_location(f"wrong_answers_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULES = {p.stem: load(p) for p in FILES}  # one course per file, so two files may cover the same assignment
CASES = [(name, cell, i) for name, m in MODULES.items() for cell, pairs in m.WRONG_ANSWERS.items() for i in range(len(pairs))]


def student_id(cell: str, index: int) -> str:
    return f"wrong-{cell}-{index}"


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def graded_by(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id of each answer cell -> grade_id of the test cell that grades it (the next graded cell)."""
    pairs, answer = {}, None
    for cell in notebook.cells:
        if _meta(cell).get("solution"):
            answer = _meta(cell)["grade_id"]
        elif _meta(cell).get("grade") and answer is not None:
            pairs[answer], answer = _meta(cell)["grade_id"], None
    return pairs


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Per file: its answer -> test cell map, points per test cell, and scores per student and test cell."""
    results = {}
    for name, module in MODULES.items():
        assignment, answers = module.ASSIGNMENT, module.WRONG_ANSWERS
        course = tmp_path_factory.mktemp(f"wrong-{name}")
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
        nbgrader(course, "generate_assignment", assignment, "--force")
        source = course / "solutions" / assignment / f"{assignment}.ipynb"
        release = course / "exercises" / assignment / f"{assignment}.ipynb"
        good = answered(source, release)
        tests = graded_by(good)
        points = {_meta(c)["grade_id"]: float(_meta(c)["points"]) for c in good.cells if _meta(c).get("grade")}
        for cell, pairs in answers.items():
            assert cell in tests, f"{assignment}: {cell!r} is not an answer cell followed by a test cell"
            for index, (_, wrong_source) in enumerate(pairs):
                nb = copy.deepcopy(good)
                (target_cell,) = [c for c in nb.cells if _meta(c).get("grade_id") == cell]
                assert wrong_source.strip() != target_cell.source.strip(), f"{cell} #{index} is the solution itself"
                target_cell.source = wrong_source.strip()
                path = course / "submitted" / student_id(cell, index) / assignment / f"{assignment}.ipynb"
                path.parent.mkdir(parents=True)
                nbformat.write(nb, path)
        nbgrader(course, "autograde", assignment, "--force")  # one call grades every wrong answer
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            scores = {student_id(cell, i): {test: gb.find_grade(test, assignment, assignment, student_id(cell, i)).score
                                            for test in points}
                      for cell, pairs in answers.items() for i in range(len(pairs))}
        results[name] = {"tests": tests, "points": points, "scores": scores}
    return results


def test_there_are_wrong_answers():
    assert CASES


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_task_has_a_wrong_answer(graded, name):
    missing = set(graded[name]["tests"]) - {cell for cell, pairs in MODULES[name].WRONG_ANSWERS.items() if pairs}
    assert not missing, f"{MODULES[name].ASSIGNMENT}: no wrong answer for {sorted(missing)}"


@pytest.mark.parametrize(("name", "cell", "index"), CASES, ids=[f"{n}-{c}-{i}" for n, c, i in CASES])
def test_wrong_answer_loses_exactly_its_tasks_points(graded, name, cell, index):
    description = MODULES[name].WRONG_ANSWERS[cell][index][0]
    result = graded[name]
    target = result["tests"][cell]
    scores = result["scores"][student_id(cell, index)]
    assert scores[target] == 0, f"{cell}: '{description}' still scores {scores[target]} in {target}"
    others = {test: (score, result["points"][test]) for test, score in scores.items()
              if test != target and score != result["points"][test]}
    assert not others, f"{cell}: '{description}' also costs points elsewhere: {others}"
