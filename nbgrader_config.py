"""nbgrader configuration of the course (run nbgrader from the repository root).

solutions/<a>/<a>.ipynb is the instructor's source (solutions and hidden tests);
`make release` writes the student version into exercises/<a>/<a>.ipynb.
"""

from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, GetGrades, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)

from seqlab.grading import FeedbackSanitizer, TruncateOutput
from seqlab.grading.guard import GuardedExecute

c = get_config()  # noqa: F821  (provided by nbgrader)

# The course directory is the folder of this file (the repository root, or a copy of it).
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "sequence-models"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# Autograding runs the "fast" profile (seqlab.device.profile() sees NBGRADER_EXECUTION) and
# stops any cell after this many seconds, so a runaway submission cannot stall the class.
c.ExecutePreprocessor.timeout = 120
# nbgrader's autograde steps, plus TruncateOutput: a print of 50 million characters on one line
# would otherwise end up whole in the graded notebook and the feedback page.
# GuardedExecute is nbgrader's Execute plus an integrity check after every test cell (student code
# that replaces torch.allclose, sys.modules entries or IPython's error handling loses those tests).
c.Autograde.autograde_preprocessors = [GuardedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, TruncateOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]

# A test cell a student deleted is put back (after the answer cell before it) and run.
c.OverwriteCells.add_missing_cells = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Feedback shows scores and error messages, never the hidden tests or the lines around a failure.
# Student HTML (markdown cells, display(HTML(...))) is cleaned by nbconvert's sanitizer.
c.GenerateFeedback.preprocessors = [GetGrades, FeedbackSanitizer, SanitizeHTML, CSSHTMLHeaderPreprocessor]
c.SanitizeHTML.enabled = True
# Gradebook writes of parallel workers wait for each other instead of failing with "database is locked".
c.CourseDirectory.db_url = "sqlite:///gradebook.db?timeout=300"
