"""Many re-renders at once: on local worker processes, or as tasks on a Ray cluster.

A studio re-renders every shot of a film, in several versions: one `Job` per
output, each an `api.rerender` call. Jobs run independently: a failing job is
reported with its one-line reason and never stops the others, and a job whose
output is already up to date (its label names the same model, inputs and
settings: `api.up_to_date`) is skipped, so a rerun after a crash or with a few
jobs added does only what is missing. Every output is written under a
temporary name and renamed, so an interrupted job leaves no half file behind.

Local workers are separate processes (spawned: each opens its own backend,
with the CPU's threads shared among them). On Ray each job is a task asking for
`Job.cpus` CPUs and `Job.gpus` GPUs; models and clips must be at the same paths
on every node (shared storage), as Ray ships only the job's description.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reenact.errors import ReenactError

Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class Job:
    """One re-render: `api.rerender(model, target, output, **options)`."""

    name: str
    """How the job is called in progress lines and the closing table (its output file's name by default)."""
    model: Path
    target: Path
    output: Path
    options: dict = field(default_factory=dict)
    """`api.rerender`'s keyword arguments (source, recombination, edits, cuts, blend, watermark, backend, ...)."""
    cpus: float = 1.0
    """CPUs a Ray task of this job asks for."""
    gpus: float = 0.0
    """GPUs a Ray task of this job asks for (then the backend's `auto` finds CUDA there)."""


@dataclass(frozen=True)
class JobResult:
    name: str
    status: Status
    seconds: float = 0.0
    reason: str = ""
    """Why it failed, in one line; or what it rendered."""


@dataclass
class BatchReport:
    """What a batch did, job by job, in the jobs' order."""

    results: list[JobResult]
    seconds: float

    def count(self, status: Status) -> int:
        return sum(result.status == status for result in self.results)

    @property
    def failed(self) -> list[JobResult]:
        return [result for result in self.results if result.status == "failed"]

    def table(self) -> str:
        """The closing table: one row per job, then the totals and the rate."""
        width = max([len(result.name) for result in self.results] + [3])
        rows = [f"{'job':<{width}}  status   seconds  note"]
        rows += [f"{r.name:<{width}}  {r.status:<7}  {r.seconds:7.1f}  {r.reason}" for r in self.results]
        rate = 60 * self.count("done") / self.seconds if self.seconds else 0.0
        rows.append(f"{self.count('done')} done, {self.count('failed')} failed, {self.count('skipped')} skipped "
                    f"in {self.seconds:.1f} s ({rate:.1f} jobs per minute)")
        return "\n".join(rows)


def _attempt(name: str, threads: int | None, work: Callable[[], tuple[Status, str]]) -> JobResult:
    """Run one job's `work` to its result; never raises for a job's own fault (a bad input, a missing model, a bug
    met on one clip): the reason is its one line."""
    start = time.perf_counter()
    try:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        status, note = work()
        return JobResult(name, status, time.perf_counter() - start, note)
    except ReenactError as e:
        return JobResult(name, "failed", time.perf_counter() - start, " ".join(str(e).split()))
    except Exception as e:  # noqa: BLE001 - one job's bug is reported, the others go on
        where = traceback.extract_tb(e.__traceback__)[-1]
        return JobResult(name, "failed", time.perf_counter() - start,
                         f"{type(e).__name__}: {' '.join(str(e).split())} ({Path(where.filename).name}:{where.lineno})")


def run_job(job: Job, threads: int | None = None) -> JobResult:
    """Run one job: skipped when its output is up to date, else re-rendered."""
    from reenact import api

    def work() -> tuple[Status, str]:
        if api.up_to_date(job.output, job.model, job.target, **job.options):
            return "skipped", "up to date"
        summary = api.rerender(job.model, job.target, job.output, command="batch", **job.options)
        return "done", f"{summary.frames} frames ({summary.generated} generated) -> {job.output}"

    return _attempt(job.name, threads, work)


@dataclass(frozen=True)
class Shot:
    """One shot of a clip split at its cuts: frames [start, end) of a planned re-render, drawn into `output`."""

    name: str
    plan: object
    """The `api.RenderPlan` of the whole clip."""
    frames: tuple[int, int]
    output: Path
    backend: object = None
    """The `BackendConfig` to draw with (None: auto)."""
    batch: int = 8
    cpus: float = 1.0
    gpus: float = 0.0


def run_shot(shot: Shot, threads: int | None = None) -> JobResult:
    """Draw one shot, as a piece to be joined."""
    from reenact import api

    def work() -> tuple[Status, str]:
        summary = api.render(shot.plan, shot.output, backend=shot.backend or api.BackendConfig(), batch=shot.batch,
                             frames=shot.frames, piece=True)
        return "done", f"{summary.frames} frames"

    return _attempt(shot.name, threads, work)


Progress = Callable[[JobResult], object]


def run_local(jobs: Sequence[Job | Shot], workers: int = 1, progress: Progress | None = None,
              work: Callable = run_job) -> BatchReport:
    """Run `jobs` (each with `work`) on `workers` spawned processes, the CPU's cores shared among them."""
    start = time.perf_counter()
    threads = max(1, (os.cpu_count() or 1) // workers)
    results: dict[int, JobResult] = {}
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(work, job, threads): index for index, job in enumerate(jobs)}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            try:
                result = future.result()
            except Exception as e:  # noqa: BLE001 - the worker process itself died (killed, out of memory)
                result = JobResult(jobs[index].name, "failed", 0.0, f"its worker process died: {type(e).__name__}: {e}")
            results[index] = result
            if progress:
                progress(result)
    return BatchReport([results[i] for i in range(len(jobs))], time.perf_counter() - start)


def run_ray(jobs: Sequence[Job | Shot], address: str | None = None, progress: Progress | None = None,
            init: dict | None = None, work: Callable = run_job) -> BatchReport:
    """Run `jobs` as Ray tasks on the cluster at `address` ("auto": the one this machine belongs to; None: start
    a local one). `init`: more `ray.init` arguments (e.g. num_cpus for a local one)."""
    try:
        import ray
    except ImportError:
        raise ReenactError("--ray needs Ray: pip install 'reenact[cluster]'") from None
    start = time.perf_counter()
    started = not ray.is_initialized()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a local Ray sends no usage report unless asked to
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **(init or {}))
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ReenactError(f"cannot reach the Ray cluster at {address}: {' '.join(str(e).split())}") from None
    try:
        task = ray.remote(work)
        pending = {task.options(num_cpus=job.cpus, num_gpus=job.gpus).remote(job, max(1, int(job.cpus))): index
                   for index, job in enumerate(jobs)}
        results: dict[int, JobResult] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayError as e:  # the task's worker died or was lost with its node
                reason = f"Ray: {type(e).__name__}: {str(e).splitlines()[0]}"
                result = JobResult(jobs[index].name, "failed", 0.0, reason)
            results[index] = result
            if progress:
                progress(result)
    finally:
        if started:
            ray.shutdown()
    return BatchReport([results[i] for i in range(len(jobs))], time.perf_counter() - start)


def unique_outputs(jobs: Iterable[Job]) -> None:
    """Refuse two jobs writing one output (the second would overwrite the first's work)."""
    seen: dict[Path, str] = {}
    for job in jobs:
        key = job.output.resolve()
        if key in seen:
            raise ReenactError(f"jobs {seen[key]} and {job.name} both write {job.output}; give each its own output")
        seen[key] = job.name


def shot_ranges(cuts: Sequence[int], frames: int) -> list[tuple[int, int]]:
    """[start, end) of each shot of a clip of `frames` frames whose shots start at `cuts` (0 need not be given)."""
    starts = sorted({0, *(int(c) for c in cuts if 0 < c < frames)})
    return list(zip(starts, [*starts[1:], frames]))


def rerender_shots(target, target_clip: Path, output: Path, *, workers: int = 2, ray_address: str | None = None,
                   use_ray: bool = False, backend=None, batch: int = 8, cpus: float = 1.0, gpus: float = 0.0,
                   progress: Progress | None = None, say: Callable[[str], object] = lambda line: None,
                   **plan_options) -> BatchReport:
    """`api.rerender` with the target clip split at its own shot cuts: one task per shot, in parallel on local
    processes (or Ray tasks), then the shots joined back in order, every frame with its own timestamp, with the
    clip's audio. Each shot starts with every filter restarted, as in a whole run, so the result equals a plain
    run but for encoding (the shots are encoded losslessly before the join's one encode)."""
    import tempfile

    from reenact import api
    from reenact.output_paths import check_outputs
    from reenact.video_io import VideoReader, VideoWriter

    target = api.Target.load(target) if not isinstance(target, api.Target) else target
    source = plan_options.get("source")
    check_outputs({"-o": output}, {"target": target_clip, "source": source, **target.folder.own_files()})
    plan = api.plan_rerender(target, target_clip, say=say, **plan_options)
    ranges = shot_ranges(plan.target_cuts, plan.frames)
    say(f"{len(ranges)} shot(s), rendered on " + (f"Ray ({ray_address or 'local'})" if use_ray else
                                                   f"{workers} local process(es)"))
    with tempfile.TemporaryDirectory(prefix=".shots-", dir=output.parent) as folder:
        shots = [Shot(f"shot {k + 1} (frames {a}-{b - 1})", plan, (a, b), Path(folder) / f"shot_{k:05d}.mp4",
                      backend, batch, cpus, gpus) for k, (a, b) in enumerate(ranges)]
        report = (run_ray(shots, ray_address, progress, work=run_shot) if use_ray else
                  run_local(shots, workers, progress, work=run_shot))
        if report.failed:
            raise ReenactError("; ".join(f"{r.name}: {r.reason}" for r in report.failed))
        drawn = sum(VideoReader(shot.output).n_frames for shot in shots)
        if drawn != plan.frames:
            raise ReenactError(f"the shots hold {drawn} frames, the clip {plan.frames}: not joined")
        reader = VideoReader(plan.target_clip)
        with VideoWriter(output, reader.rate, reader.width, reader.height, plan.metadata, audio_from=plan.target_clip,
                         time_base=reader.time_base) as writer:
            stamps = itertools.islice(reader.timed(), plan.frames)
            for shot in shots:
                for frame in VideoReader(shot.output):
                    writer.write(frame, next(stamps)[1])
    return report
