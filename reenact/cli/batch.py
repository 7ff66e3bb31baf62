"""`reenact batch JOBS`: many re-renders from a CSV or JSON list, on local processes or a Ray cluster."""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from pathlib import Path

from reenact.errors import InputError, ReenactError

COLUMNS = ("model", "target", "source", "output", "options")
"""A job's fields: model folder, target clip, source (empty: an edit), output, and more `run`/`edit` options."""
EXIT_SOME_FAILED = 1


def add_parser(commands: argparse._SubParsersAction) -> None:
    batch = commands.add_parser(
        "batch",
        help="re-render many clips from a list of jobs, on local processes or a Ray cluster",
        description=(
            "JOBS is a CSV file with the columns model, target, source, output, options (or a JSON list of "
            "objects with those keys). Each row is one `reenact run` (with a source) or `reenact edit` (without): "
            "options holds any more of their options as on the command line, e.g. \"--mode expression --smile "
            "0.5\". Relative paths are taken from the JOBS file's folder. A failing job never stops the others; a "
            "job whose output is already up to date (same model, inputs and options in its label) is skipped, so "
            "a rerun resumes. Prints a table of done, failed and skipped jobs; exits 1 if any failed."
        ),
        epilog="Ray: pip install 'reenact[cluster]'; --ray alone starts Ray on this machine, --ray auto joins the "
               "cluster this machine belongs to, --ray ray://HEAD:10001 a remote one. Models and clips must be "
               "at the same paths on every node (shared storage).",
    )
    batch.add_argument("jobs", type=Path, help="the jobs: a .csv or .json file")
    batch.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    batch.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="run each job as a Ray task (on a local Ray, or the cluster at ADDRESS)")
    batch.add_argument("--cpus", type=float, default=1.0, help="CPUs each Ray task asks for (default 1)")
    batch.add_argument("--gpus", type=float, default=0.0, help="GPUs each Ray task asks for (default 0)")
    batch.set_defaults(run=run)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The job rows of a CSV or JSON file, each with every column (empty where not given)."""
    if not path.is_file():
        raise InputError(f"jobs file not found: {path}")
    try:
        if path.suffix.lower() == ".json":
            rows = json.loads(path.read_text())
            if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                raise InputError(f"{path}: expected a JSON list of job objects")
        else:
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path} is not a readable jobs file ({e})") from None
    if not rows:
        raise InputError(f"{path} lists no job")
    for number, row in enumerate(rows, start=1):
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise InputError(f"{path}: job {number} has unknown column(s) {', '.join(sorted(map(str, unknown)))}; "
                             f"the columns are {', '.join(COLUMNS)}")
        for column in ("model", "target", "output"):
            if not row.get(column):
                raise InputError(f"{path}: job {number} has no {column}")
    return [{column: str(row.get(column) or "") for column in COLUMNS} for row in rows]


def job_of(row: dict[str, str], number: int, folder: Path):
    """A row as a `Job`: its options parsed by `run`'s (with a source) or `edit`'s own parser."""
    from reenact.batch import Job
    from reenact.cli.render import add_parsers, rerender_options

    def path(text: str) -> str:
        return str(folder / text) if text and not Path(text).is_absolute() else text

    argv = ["run" if row["source"] else "edit", "--model", path(row["model"]), "--target", path(row["target"]),
            "-o", path(row["output"]), *(["--source", path(row["source"])] if row["source"] else []),
            *shlex.split(row["options"])]
    parser = argparse.ArgumentParser(prog=f"reenact batch: job {number}:")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # argparse has printed what is wrong with the options
        raise ReenactError(f"job {number}: bad options {row['options']!r}") from None
    return Job(name=f"{number}:{Path(row['output']).name}", model=args.model, target=args.target, output=args.output,
               options=rerender_options(args))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from reenact.batch import run_local, run_ray, unique_outputs

    if args.workers < 1:
        raise ReenactError(f"--workers must be 1 or more, got {args.workers}")
    rows = read_rows(args.jobs)
    jobs = [job_of(row, number, args.jobs.parent) for number, row in enumerate(rows, start=1)]
    if args.ray:
        import dataclasses

        jobs = [dataclasses.replace(job, cpus=args.cpus, gpus=args.gpus) for job in jobs]
    unique_outputs(jobs)
    with tqdm(total=len(jobs), desc="jobs", unit="job", dynamic_ncols=True) as bar:
        def progress(result) -> None:
            bar.update(1)
            bar.set_postfix_str(f"{result.name} {result.status}")

        if args.ray:
            report = run_ray(jobs, None if args.ray == "local" else args.ray, progress)
        else:
            report = run_local(jobs, args.workers, progress)
    print(report.table())
    if report.failed:
        print(f"reenact batch: {len(report.failed)} of {len(jobs)} jobs failed (see above)", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0
