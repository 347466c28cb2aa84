import nbformat

from seqlab.grading import FeedbackSanitizer


def test_sanitizer_removes_hidden_tests_and_traceback_bodies():
    source = "assert f(1) == 2, 'f(1) should be 2'\n### BEGIN HIDDEN TESTS\nassert f(99) == 100, 'large input'\n### END HIDDEN TESTS\nprint('ok')"
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="large input",
                                           traceback=["\x1b[31m----\x1b[0m", "assert f(99) == 100, 'large input'", "AssertionError: large input"])]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("no tests here")])
    out, _ = FeedbackSanitizer().preprocess(nb, {})
    code = out.cells[0]
    assert "f(99)" not in code.source and "HIDDEN" not in code.source
    assert code.source == "assert f(1) == 2, 'f(1) should be 2'\nprint('ok')"
    assert code.outputs[0]["traceback"] == ["AssertionError: large input"]
    assert out.cells[1].source == "no tests here"
