"""``python -m seqlab.grading``: the instructor's commands (``make collect|grade|feedback|export``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqlab.grading.batch import SandboxUnavailable, grade, nbgrader, summary
from seqlab.grading.sandbox import Limits
from seqlab.grading.submissions import collect


def assignments_of(course: Path, names: list[str]) -> list[str]:
    found = sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir())
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise SystemExit(f"unknown assignment(s) {unknown}; the course has {found}")
    return names or found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqlab.grading", description=__doc__)
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="course root (has nbgrader_config.py)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("collect", help="copy a folder or LMS zip of notebooks into submitted/")
    p.add_argument("assignment")
    p.add_argument("source", type=Path)
    p.add_argument("--pattern", default=r"^(?P<student>[^_.]+)", help="regex with a 'student' group")
    p = sub.add_parser("grade", help="check, repair and autograde every submission in parallel")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--timeout", type=float, default=1800.0, help="wall-clock limit per submission, seconds")
    p.add_argument("--memory", type=float, default=4.0, help="address-space limit per kernel, GiB")
    p.add_argument("--unsafe", action="store_true",
                   help="grade even where the sandbox cannot start (student code can then read the hidden tests)")
    p = sub.add_parser("demo", help="make a synthetic class in a scratch folder to try the workflow on")
    p.add_argument("folder", type=Path)
    p.add_argument("--assignment", default="a01-embedding")
    p.add_argument("--students", type=int, default=5, help="how many hand in the solution (plus the broken kinds)")
    for name in ("feedback", "export"):
        q = sub.add_parser(name)
        q.add_argument("assignments", nargs="*")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.command == "demo":
        from seqlab.grading.synthetic import make_course

        students = make_course(course, args.folder.resolve(), args.assignment, n_good=args.students)
        print(f"{len(students)} submissions of {args.assignment} in {args.folder / 'submitted'}; now run\n"
              f"  python -m seqlab.grading --course {args.folder} grade")
        return 0
    if args.command == "collect":
        print("\n".join(collect(args.source, args.assignment, course, args.pattern)))
        return 0
    if args.command == "grade":
        limits = Limits(memory=int(args.memory * 2**30))
        try:
            outcomes = grade(course, assignments_of(course, args.assignments), args.workers, args.timeout,
                             mode="prefer" if args.unsafe else "require", limits=limits)
        except SandboxUnavailable as e:
            print(f"refusing to grade: {e}", file=sys.stderr)
            return 3
        print(summary(outcomes))
        print(f"report: {course / 'grading-report.csv'}; grades: {course / 'grades.csv'}")
        return 0
    if args.command == "feedback":
        for a in assignments_of(course, args.assignments):
            proc = nbgrader(course, "generate_feedback", a, "--force")
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return proc.returncode
        print(f"feedback: {course / 'feedback'}/<student>/<assignment>/<assignment>.html")
        return 0
    proc = nbgrader(course, "export", "--to", "grades.csv")
    print(proc.stdout[-500:] if proc.returncode else f"grades: {course / 'grades.csv'}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
