"""Command line: `nnlab release | fill | grade | review | feedback | export | report | similarity | demo |
dataset`."""
import argparse
import sys

from .course import Course, CourseError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="nnlab", description=__doc__)
    parser.add_argument("--course", help="course folder (default: the one holding the current folder)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("release", help="build release/ and solutions/ from source/ with nbgrader")

    fill = commands.add_parser("fill", help="make a submission from a file of function definitions")
    fill.add_argument("functions", nargs="+",
                      help="Python files defining graded functions (a later file overrides an earlier one)")
    fill.add_argument("--student", required=True, help="student id")
    fill.add_argument("--timestamp", type=_timestamp, help="submission time, e.g. '2026-11-20 14:00 UTC'")
    fill.add_argument("--force", action="store_true", help="replace an existing submission")

    grade = commands.add_parser("grade", help="autograde the submissions under submitted/")
    grade.add_argument("students", nargs="*", help="student ids (default: every submission)")
    grade.add_argument("--jobs", "-j", type=_positive, help="submissions graded at once (default: cores)")
    grade.add_argument("--force", action="store_true",
                       help="grade again even the submissions unchanged since their last grading")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code unconfined, with your rights (the report says so)")
    grade.add_argument("--cluster", metavar="ADDRESS", help="grade on the Dask cluster whose "
                       "scheduler is at ADDRESS, e.g. tcp://host:8786 (default: the course's "
                       "c.Cluster.scheduler; none: on this machine)")
    grade.add_argument("--full", action="store_true", help="run every cell, the course's "
                       "experiments too (default: the graded path; experiments keep the outputs "
                       "the student submitted)")
    grade.add_argument("--cell-timeout", type=_positive, help="seconds of own time per cell (default: the "
                       "course's Execute.timeout)")
    grade.add_argument("--time-budget", type=_positive, help="seconds of own time per notebook (default: the "
                       "course's GuardedExecute.time_budget)")

    review = commands.add_parser("review", help="release or void the autograded points held for "
                                 "review (tampering found); without a decision, show what is held")
    review.add_argument("student", help="student id")
    decision = review.add_mutually_exclusive_group()
    decision.add_argument("--accept", action="store_true", help="the autograded points count")
    decision.add_argument("--reject", action="store_true", help="the autograded points are voided")
    review.add_argument("--notebook", action="append", help="only this notebook (repeatable)")

    export = commands.add_parser("export", help="write the class's grades as CSV, one row per student")
    export.add_argument("--to", help="CSV file (default: grades.csv in the course folder)")

    feedback = commands.add_parser("feedback", help="write the HTML feedback of graded students")
    feedback.add_argument("students", nargs="*", help="student ids (default: every graded one)")

    commands.add_parser("report", help="write reports/index.html: class summary and plots")

    similar = commands.add_parser("similarity", help="write reports/similarity.html and .csv: pairs of "
                                  "students whose code is alike (never changes a grade)")
    similar.add_argument("--against", metavar="DIR", help="also compare with the known solutions in "
                         "DIR (.py files and notebooks, searched recursively)")

    commands.add_parser("demo", help="build the release, then fill and grade the demo class")

    dataset = commands.add_parser("dataset", help="regenerate the course's dataset file")
    dataset.add_argument("--seed", type=int, help="generator seed (default: the course's)")

    args = parser.parse_args(argv)
    try:
        return _run(args)
    except CourseError as error:
        print(f"nnlab {args.command}: error: {error}", file=sys.stderr)
        return 2


def _run(args):
    course = Course(args.course)
    if args.command == "release":
        from .authoring.release import build

        build(course)
    elif args.command == "fill":
        from .authoring.fill import fill

        names = fill(course, args.functions, args.student, args.timestamp, args.force)
        print(f"{course.submission(args.student)}: filled {', '.join(names)}")
    elif args.command == "grade":
        from .grading.batch import grade_class

        config = {}
        if args.cell_timeout:
            config["Execute"] = {"timeout": args.cell_timeout}
        if args.time_budget:
            config.setdefault("GuardedExecute", {})["time_budget"] = args.time_budget
        if args.full:
            config.setdefault("GuardedExecute", {})["full"] = True
        try:
            grade_class(course, args.students, args.jobs, args.force, config,
                        sandbox=not args.no_sandbox, cluster=args.cluster)
        except KeyboardInterrupt:
            return 130
    elif args.command == "export":
        from .results.export import write_csv

        target = args.to or course.root / "grades.csv"
        rows = write_csv(course, target)
        print(f"{target}: {len(rows)} students")
    elif args.command == "review":
        from .steps.review import review_command

        return review_command(course, args.student, args.accept, args.reject, args.notebook)
    elif args.command == "feedback":
        from .results.feedback import generate_feedback

        if not generate_feedback(course, args.students):
            print("nnlab feedback: no feedback could be written", file=sys.stderr)
            return 1
    elif args.command == "report":
        from .results.report import write_report

        print(write_report(course))
    elif args.command == "similarity":
        from .results.similarity import summary, write_similarity

        result, page = write_similarity(course, args.against)
        print(f"{page}: {summary(result)}")
        for note in result.notes:
            print(f"  {note}")
    elif args.command == "demo":
        from .authoring.demo import run_demo

        run_demo(course)
    elif args.command == "dataset":
        from .authoring import dataset

        dataset.main([] if args.seed is None else ["--seed", str(args.seed)])
    return 0


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def _timestamp(text):
    from dateutil import parser as date_parser

    try:
        stamp = date_parser.parse(text)
    except (ValueError, OverflowError) as error:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} ({error})")
    return stamp if stamp.tzinfo else stamp.astimezone()


if __name__ == "__main__":
    sys.exit(main())
