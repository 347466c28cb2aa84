"""Instructor-side grading: robust batch autograding on top of nbgrader.

* :mod:`seqlab.grading.sandbox`: the bubblewrap sandbox every grading kernel runs in.
* :mod:`seqlab.grading.guard`: nbgrader's ``Execute`` with an integrity check (scores cannot be faked).
* :mod:`seqlab.grading.feedback`: :class:`FeedbackSanitizer`, used by ``nbgrader_config.py`` so
  feedback never shows hidden tests.
* :mod:`seqlab.grading.submissions`: read, check and repair one handed-in file (Colab saves,
  duplicated cells, files that are not notebooks) and collect a class from a folder or a zip.
* :mod:`seqlab.grading.batch`: grade every submission in parallel workers, one failure never
  stopping the others, and write a report of what happened to each.

``python -m seqlab.grading --help`` lists the commands behind ``make collect|grade|feedback|export``.
"""

__all__ = ["FeedbackSanitizer", "TruncateOutput"]


def __getattr__(name: str):
    # Lazy: the sandbox's kernel wrapper imports this package for every kernel it starts, and
    # nbconvert (behind the feedback preprocessors) takes about a second to import.
    if name in __all__:
        from seqlab.grading import feedback

        return getattr(feedback, name)
    raise AttributeError(f"module 'seqlab.grading' has no attribute {name!r}")
