"""Instructor-side grading: robust batch autograding on top of nbgrader.

* :mod:`seqlab.grading.feedback`: :class:`FeedbackSanitizer`, used by ``nbgrader_config.py`` so
  feedback never shows hidden tests.
* :mod:`seqlab.grading.submissions`: read, check and repair one handed-in file (Colab saves,
  duplicated cells, files that are not notebooks) and collect a class from a folder or a zip.
* :mod:`seqlab.grading.batch`: grade every submission in parallel workers, one failure never
  stopping the others, and write a report of what happened to each.

``python -m seqlab.grading --help`` lists the commands behind ``make collect|grade|feedback|export``.
"""

from seqlab.grading.feedback import FeedbackSanitizer, TruncateOutput

__all__ = ["FeedbackSanitizer", "TruncateOutput"]
