"""``--engine ray``: the same (system, batch) work units as the local engine, run on a Ray cluster.

Each model is loaded once, in an actor (``num_gpus`` when the cluster has GPUs) that turns batches into
log-probs through the same logits cache as a local run; every batch is then decoded by a task wherever a CPU
is free. Tasks return prediction rows and their sums, and the driver alone appends them to
``predictions.jsonl`` and rewrites ``run.json`` (the local engine's code), so a killed or interrupted job
resumes exactly as a local one. Ray retries a task (and restarts an actor) whose worker or node died, up to
``ray.max_retries`` times from the experiment file. Tuning grid points run as tasks over one copy of the
shared state (log-probs, decoder) put in the object store once (``ray_map``).

Ray is imported inside these functions only: ``werbench --help`` and the local engine never load it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werbench.manifests.errors import ConfigError, MissingDependencyError, WerbenchError
from werbench.manifests.schema import Utterance
from werbench.runners.batching import duration_batches
from werbench.runners.decode import (
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    DecodeJob,
    DecodeSummary,
    SystemRun,
    Totals,
    batch_rows,
)
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.interrupts import remembered_interrupts
from werbench.runners.logits_cache import UttLogits

ENGINES = ("local", "ray")


def check_engine(engine: str, address: str | None) -> bool:
    """True for ``ray``; a typo or an ``--address`` without ``--engine ray`` is a user error."""
    if engine not in ENGINES:
        raise ConfigError("--engine", f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if address is not None and engine != "ray":
        raise ConfigError("--address", "only --engine ray connects to a cluster")
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise MissingDependencyError("--engine", "Ray is not installed: pip install 'werbench[ray]'")
    return engine == "ray"


def describe(cluster: Cluster) -> str:
    """The line the CLI prints on joining: size, and Ray's dashboard when the cluster runs one."""
    line = f"ray: {cluster.nodes} node(s), {cluster.cpus:g} CPUs, {cluster.gpus:g} GPUs at {cluster.address}"
    return line + (f"; dashboard {cluster.dashboard_url}" if cluster.dashboard_url else "")


@dataclass(slots=True)
class Cluster:
    """What the driver learned when it joined (or started) the cluster."""

    address: str
    cpus: float
    gpus: float
    nodes: int
    dashboard_url: str | None


def connect(address: str | None = None, num_cpus: int | None = None) -> Cluster:
    """Join the cluster at ``address`` (``auto``, ``ray://host:10001``, ``host:6379``) or start one here."""
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"address": address, "log_to_driver": False, "logging_level": "WARNING"}
        if address is None:
            kwargs.update(num_cpus=num_cpus, include_dashboard=False)
        context = ray.init(**kwargs)
    else:
        context = ray.get_runtime_context()
    resources = ray.cluster_resources()
    url = getattr(context, "dashboard_url", None) or None
    return Cluster(
        address=str(getattr(context, "address_info", {}).get("address", address or "local")),
        cpus=float(resources.get("CPU", 0)),
        gpus=float(resources.get("GPU", 0)),
        nodes=sum(1 for node in ray.nodes() if node.get("Alive")),
        dashboard_url=f"http://{url}" if url and not url.startswith("http") else url,
    )


# ---------------------------------------------------------------- remote side


@dataclass(slots=True)
class ModelInfo:
    """What the driver needs of a model it never loads: what SystemRun reads of an AcousticModel."""

    info: dict[str, Any]
    vocab: Vocabulary
    frame_seconds: float
    sample_rate: int

    def identity(self) -> dict[str, Any]:
        return dict(self.info)


class AcousticModelWorker:
    """One loaded model (the body of a Ray actor): batches in, log-probs out, through the logits cache."""

    def __init__(
        self, path: str, device: str, precision: str, cache_dir: str | None, trust_model: bool
    ) -> None:
        from werbench.runners.logits_cache import LogitsCache
        from werbench.runners.models.load import load_model
        from werbench.runners.storage import scratch_dir

        self.error: WerbenchError | None = None  # a refused or broken model file, raised by describe()
        try:
            self.model = load_model(
                path, device, precision, cache_dir=scratch_dir(cache_dir), trust_model=trust_model
            )
        except WerbenchError as exc:  # raised in __init__ it would reach the driver as a bare ActorDiedError
            self.error = exc
            return
        self.cache = LogitsCache(cache_dir, self.model.identity()) if cache_dir else None

    def describe(self) -> ModelInfo:
        """The model's description; the driver's first call, so it re-raises a load error as itself."""
        if self.error is not None:
            raise self.error
        model = self.model
        return ModelInfo(model.identity(), model.vocab, model.frame_seconds, model.sample_rate)

    def log_probs(self, batch: list[Utterance]) -> list[UttLogits]:
        from werbench.runners.logits_cache import batch_log_probs

        return batch_log_probs(self.model, batch, self.cache)


@functools.lru_cache(maxsize=8)
def _decoder(kind: str, params_json: str) -> Any:
    """One decoder per worker process and configuration (its LM loads once per process)."""
    from werbench.runners.decoders.registry import make_decoder

    return make_decoder(kind, json.loads(params_json))


def decode_batch_task(
    logits: list[UttLogits], kind: str, params_json: str, vocab: Vocabulary, frame_seconds: float
) -> tuple[list[dict[str, Any]], Totals]:
    """A batch's prediction rows and the sums run.json adds up (the log-probs never travel back)."""
    decoder = _decoder(kind, params_json)
    start = time.perf_counter()
    rows = batch_rows(logits, vocab, frame_seconds, decoder)
    totals = Totals()
    totals.add(logits, time.perf_counter() - start)
    return rows, totals


def _call_shared(shared: dict[str, Any], func: Callable[[Any], Any], item: Any) -> Any:
    """Run ``func(item)`` with tune's worker state set from the object store's one copy."""
    from werbench.runners import tune

    tune._SHARED.update(shared)
    return func(item)


# ---------------------------------------------------------------- driver side


@dataclass(slots=True)
class Progress:
    """One bar over every system: utterances/s, RTFx and the task counts."""

    enabled: bool
    bar: Any = None
    totals: Totals = field(default_factory=Totals)
    pending: int = 0
    running: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=0, desc="ray", unit="utt", disable=not self.enabled, dynamic_ncols=True)

    def grow(self, utterances: int) -> None:
        self.bar.total += utterances
        self.bar.refresh()

    def done(self, utterances: int, totals: Totals | None = None) -> None:
        if totals is not None:
            self.totals.merge(totals)
        elapsed = max(self.bar.format_dict["elapsed"], 1e-9)
        self.bar.set_postfix(
            utt_s=f"{(self.bar.n + utterances) / elapsed:.1f}",
            rtfx=f"{self.totals.rtfx or 0:.1f}",
            pending=self.pending,
            running=self.running,
            failed=self.failed,
            refresh=False,
        )
        self.bar.update(utterances)

    def close(self) -> None:
        self.bar.close()


class TaskFailed(WerbenchError):
    """Some batches failed on the cluster even after Ray's retries; what finished is saved."""


@contextlib.contextmanager
def _model_actor(
    model_path: Path, device: str, precision: str, job: DecodeJob, spec: Any, gpus: float, trust_model: bool
):
    import ray

    num_gpus = spec.am_num_gpus if spec.am_num_gpus is not None else (1 if gpus > 0 else 0)
    actor_class = ray.remote(AcousticModelWorker).options(
        num_cpus=spec.am_num_cpus,
        num_gpus=num_gpus,
        max_restarts=spec.max_retries,
        max_task_retries=spec.max_retries,
    )
    cache = str(job.cache_dir) if job.cache_dir else None
    actor = actor_class.remote(str(model_path), device if num_gpus else "cpu", precision, cache, trust_model)
    try:
        yield actor
    finally:
        ray.kill(actor, no_restart=True)


def _submit_all(
    runs: list[tuple[SystemRun, list[list[Utterance]]]],
    actor: Any,
    spec: Any,
    window: int,
    progress: Progress,
) -> Iterator[tuple[SystemRun, Any]]:
    """Yield ``(run, result or exception)`` as batches finish, at most ``window`` decode tasks in flight.

    Batches reach the (sequential) actor in the local engine's order, so a system's log-probs come from
    the logits cache whenever an earlier system of the same model computed them, exactly as locally.
    """
    import ray
    from ray.exceptions import RayError, TaskCancelledError

    task = ray.remote(decode_batch_task).options(num_cpus=spec.decode_num_cpus, max_retries=spec.max_retries)
    queue = deque((run, batch) for run, batches in runs for batch in batches)
    in_flight: dict[Any, SystemRun] = {}
    progress.pending += len(queue)
    try:
        while queue or in_flight:
            while queue and len(in_flight) < window:
                run, batch = queue.popleft()
                params = json.dumps(run.job.params, sort_keys=True, default=str)
                logits = actor.log_probs.remote(batch)
                ref = task.remote(logits, run.job.decoder, params, run.model.vocab, run.model.frame_seconds)
                in_flight[ref] = run
                progress.pending -= 1
                progress.running += 1
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
            for ref in ready:
                run = in_flight.pop(ref)
                progress.running -= 1
                try:
                    yield run, ray.get(ref)
                except (RayError, TaskCancelledError) as exc:
                    progress.failed += 1
                    yield run, exc
    finally:
        for ref in in_flight:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        progress.running = 0


def run_experiment_ray(
    path: str | Path,
    overwrite: bool = False,
    progress: bool = True,
    address: str | None = None,
    num_cpus: int | None = None,
    on_cluster: Callable[[Cluster], None] | None = None,
    *,
    trust_model: bool = False,
) -> list[DecodeSummary]:
    """``werbench run`` on Ray: the experiment file's systems, identical results to the local engine."""
    from werbench.runners.experiment import Experiment, plan

    experiment = Experiment(path)
    experiment.check()
    cluster = connect(address, num_cpus)
    if on_cluster is not None:
        on_cluster(cluster)
    spec = experiment.config.ray
    window = spec.max_in_flight or max(2, int(2 * cluster.cpus))
    bar = Progress(progress)
    summaries: list[DecodeSummary] = []
    failures: list[str] = []
    try:
        for model_path, precision, jobs in plan(experiment, overwrite, progress):
            device = experiment.config.device
            with _model_actor(
                model_path, device, precision, jobs[0], spec, cluster.gpus, trust_model
            ) as actor:
                summaries += _run_model_jobs(jobs, actor, spec, window, bar, failures)
    finally:
        bar.close()
    if failures:
        raise TaskFailed(
            path,
            f"{len(failures)} batch(es) failed on the cluster after {spec.max_retries} retries, e.g. "
            f"{failures[0]}; finished batches are saved: run the same command again to resume",
        )
    return summaries


def _run_model_jobs(
    jobs: list[DecodeJob], actor: Any, spec: Any, window: int, bar: Progress, failures: list[str]
) -> list[DecodeSummary]:
    """Every system of one model: prepare each (resume state), run all batches, then finish each."""
    import ray

    try:
        info: ModelInfo = ray.get(actor.describe.remote())
    except ray.exceptions.RayTaskError as exc:  # the model file's own error, not Ray's wrapper of it
        raise (exc.cause if isinstance(exc.cause, WerbenchError) else exc) from None
    runs: list[tuple[SystemRun, list[list[Utterance]]]] = []
    skipped: dict[int, int] = {}
    for job in jobs:
        run = SystemRun(job, info)  # type: ignore[arg-type]  # ModelInfo has what SystemRun reads
        pending = run.prepare()
        skipped[id(run)] = len(run.utts) - len(pending)
        run.mark(STATUS_RUNNING)
        runs.append((run, duration_batches(pending, job.batch_seconds, job.max_batch)))
        bar.grow(len(pending))
    broken: set[int] = set()
    try:
        with (
            remembered_interrupts() as interrupts,
            contextlib.closing(_submit_all(runs, actor, spec, window, bar)) as results,
        ):
            for run, result in results:
                if isinstance(result, BaseException):
                    broken.add(id(run))
                    failures.append(f"{run.ref.testset}/{run.ref.system}: {result}")
                    bar.done(0)
                    continue
                rows, totals = result
                run.save_batch(rows, totals)
                bar.done(len(rows), totals)
                interrupts.check()
    except BaseException:
        for run, _ in runs:
            with contextlib.suppress(Exception):
                run.mark(STATUS_INTERRUPTED)
        raise
    summaries = []
    for run, _ in runs:
        if id(run) in broken:
            run.mark(STATUS_INTERRUPTED)
            continue
        info_done = run.finish()
        summaries.append(
            DecodeSummary(run.ref, info_done, len(run.utts), skipped[id(run)], run.failures(), run.location)
        )
    return summaries


def ray_map(func: Callable[[Any], Any], items: list[Any], jobs: int, desc: str) -> list[Any]:
    """tune's ``_pool_map`` on the cluster: ``func`` over ``items`` (in order), one task each, over tune's
    worker state put in the object store once (log-probs travel once per node, not once per task)."""
    import ray
    from tqdm import tqdm
    from werbench.runners import tune

    shared = ray.put(dict(tune._SHARED))
    task = ray.remote(_call_shared).options(num_cpus=1, max_retries=3)
    refs = [task.remote(shared, func, item) for item in items]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    waiting = list(refs)
    try:
        with tqdm(total=len(refs), desc=f"{desc} (ray)") as bar:
            while waiting:
                ready, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
                for ref in ready:
                    results[index[ref]] = ray.get(ref)
                    bar.update(1)
    except BaseException:
        for ref in waiting:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    return results
