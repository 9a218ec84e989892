"""``score_dataset``: score trajectories on a Ray cluster, as one Ray Data job.

::

    sources / documents ─► read (tasks) ─► render (tasks) ─► score (actor pool) ─► driver
                            swerm readers   tokenizer only    one Verifier each     shards + JSONL

The driver lists the input files (detecting each one's format), or takes a Ray Dataset of JSON
documents. Ray tasks read them with swerm's readers and render the prompts; an actor pool scores
them, one :class:`~swerm_plugin.verifier.Verifier` per actor (a local model on GPU actors with
``gpus_per_actor``; a remote backend on light actors, each sending at most
``remote.concurrency`` requests at once), calibrates and builds the score records; the driver
writes them as shards plus the scores JSONL (:mod:`swerm_plugin.scale.shards`). Content hashes
already in the output are skipped, so a killed job is resumed by running it again.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swerm_plugin import errors
from swerm_plugin.config import SwermConfig, load_config
from swerm_plugin.errors import ConfigError, ScaleError, SwermError
from swerm_plugin.plugins.manager import get_hooks
from swerm_plugin.scale import stages
from swerm_plugin.scale.actors import ActorPlan, plan_actors
from swerm_plugin.scale.shards import Collector, ShardedOutput, Tally

if TYPE_CHECKING:
    from ray.data import Dataset

log = logging.getLogger("swerm.scale")

_RAY_HINT = "install the ray extra: pip install 'swerm-plugin[ray]'"
#: A swerm error's last line in the traceback text of a worker (``module.Class: message``).
_WORKER_ERROR = re.compile(r"swerm_plugin\.errors\.(\w+): (.+)")


@dataclass
class ScaleResult(Tally):
    """What a job did: the counts of :class:`~swerm_plugin.scale.shards.Tally` (``failures``
    names up to 1000 failed trajectories; every one is an error record in the output), records
    recovered from the shards of an earlier run, and ``records`` when there is no output."""

    recovered: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    output: Path | None = None
    shards_dir: Path | None = None
    ray_start_s: float = 0.0
    job_s: float = 0.0

    def summary(self) -> str:
        """The one-line summary ``swerm score --engine ray`` prints on stderr."""
        text = f"scored {self.scored}, failed {self.failed}"
        if self.output is not None:
            text += f", skipped {self.skipped} (already in {self.output})"
            text += f"; {self.shards} new shards in {self.shards_dir}"
        if self.duplicates:
            text += f", {self.duplicates} duplicates not scored twice"
        if self.recovered:
            text += f"; {self.recovered} records recovered from shards of an earlier run"
        return text + f" (Ray start {self.ray_start_s:.1f} s, job {self.job_s:.1f} s)"

    def update_from(self, tally: Tally) -> None:
        for name in (f.name for f in fields(Tally)):
            setattr(self, name, getattr(tally, name))
        if self.output is None:
            self.shards = 0  # batches handed on, not files


def default_shards_dir(output: str | Path) -> Path:
    """Where the shards of ``-o scores.jsonl`` go: ``scores.jsonl.shards/`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".shards")


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ScaleError(f"the Ray engine needs Ray Data ({exc})", hint=_RAY_HINT) from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None, *, progress: bool = True) -> Iterator[Any]:
    """The Ray connection: the one already open in this process, else a new one to ``address``
    (a local cluster when ``None`` and no ``RAY_ADDRESS`` is set), closed at the end. Without
    ``progress``, Ray Data prints no progress lines meanwhile."""
    ray = _import_ray()
    with contextlib.ExitStack() as stack:
        if not progress:
            stack.enter_context(quiet_ray_data())
        if ray.is_initialized():
            yield ray
        else:
            yield stack.enter_context(_connected(ray, address))


@contextlib.contextmanager
def _connected(ray: Any, address: str | None) -> Iterator[Any]:
    options: dict[str, Any] = {"address": address, "logging_level": logging.WARNING}
    if address is None:
        options["include_dashboard"] = False
    try:
        ray.init(**options)
    except Exception as exc:
        where = f" at {address}" if address else ""
        raise ScaleError(
            f"cannot start or reach the Ray cluster{where}: {type(exc).__name__}: {exc}",
            hint="start one with `ray start --head` and pass --address, or omit --address "
            "for a local cluster",
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


@contextlib.contextmanager
def quiet_ray_data() -> Iterator[None]:
    """Ray Data's log lines below warnings (its progress lines where stderr is no terminal)
    left out while the job runs."""
    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _sources_dataset(
    ray: Any, paths: Sequence[Path], done: frozenset[str], collector: Collector
) -> Dataset | None:
    """One row per source found under ``paths``; files no reader takes go straight to the
    collector as error records."""
    from swerm_plugin.errors import InputFormatError, TrajectoryFormatError
    from swerm_plugin.readers import find_sources

    problems: list[InputFormatError] = []
    items = []
    for path in paths:
        found = find_sources(path, on_error=problems.append)
        if not found and not problems and path.is_dir():
            raise TrajectoryFormatError(
                path, "no trajectory files found in this folder", expected="trajectory files"
            )
        items += [{"path": str(source.path), "format": source.format} for source in found]
    rows = [stages.error_row(problem.path, str(problem)) for problem in problems]
    collector.take(
        (r["key"], stages.SKIPPED if r["key"] in done else r["status"], r["record"]) for r in rows
    )
    if not items:
        return None
    blocks = min(len(items), 1000)
    read: Any = stages.read_source  # Ray's stubs know no keyword-only arguments
    return ray.data.from_items(items, override_num_blocks=blocks).flat_map(
        read, fn_kwargs={"done": done}
    )


def _documents_dataset(dataset: Dataset, done: frozenset[str]) -> Dataset:
    schema = dataset.schema()
    names = list(schema.names) if schema is not None else []
    column = next((c for c in ("document", "text", "bytes") if c in names), None)
    if column is None:
        raise ScaleError(
            f"the dataset has no 'document' column (columns: {', '.join(names) or 'none'})",
            hint="give each row one trajectory document as JSON text in 'document' (or 'text' / "
            "'bytes', as ray.data.read_text and read_binary_files name them)",
        )
    path_column = next((c for c in ("source_path", "path") if c in names), None)
    kwargs = {"column": column, "path_column": path_column, "done": done}
    read: Any = stages.read_document  # Ray's stubs know no keyword-only arguments
    return dataset.flat_map(read, fn_kwargs=kwargs)


def _scored(
    ray: Any, read: Dataset, config: SwermConfig, plan: ActorPlan, batch_size: int
) -> Dataset:
    render: Any = stages.render_batch  # Ray's stubs know no keyword-only arguments
    rendered = read.map_batches(
        render,
        fn_kwargs={"config": config},
        batch_size=batch_size,
        batch_format="pyarrow",
    )
    return rendered.map_batches(
        stages.ScoreActor,
        fn_constructor_kwargs={"config": config, "threads": plan.threads},
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
        batch_size=batch_size,
        batch_format="pyarrow",
        num_cpus=plan.cpus,
        num_gpus=plan.gpus or None,
    )


def _swerm_cause(exc: BaseException) -> SwermError | None:
    """The swerm error a worker raised, out of Ray's wrappers: the exception itself where Ray
    keeps it (``RayTaskError.cause``), else rebuilt from the traceback text Ray keeps instead
    (an actor that failed to start)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (getattr(current, "cause", None), current):
            if isinstance(candidate, SwermError) and not hasattr(candidate, "cause"):
                return candidate
        current = current.__cause__ or current.__context__
    found = _WORKER_ERROR.findall(str(exc))
    if not found:
        return None
    name, message = found[-1]
    cls = getattr(errors, name, None)
    simple = isinstance(cls, type) and issubclass(cls, SwermError)
    if not simple or issubclass(cls, errors.InputFormatError):  # type: ignore[arg-type]
        cls = ScaleError
    return cls(message)  # type: ignore[misc]


def _open_output(
    stack: contextlib.ExitStack, result: ScaleResult, shards: str | Path | None, inputs: list[Path]
) -> ShardedOutput | None:
    if result.output is None:
        return None
    result.shards_dir = Path(shards) if shards is not None else default_shards_dir(result.output)
    sink = stack.enter_context(ShardedOutput(result.output, result.shards_dir, inputs=inputs))
    result.recovered = sink.recovered
    return sink


def _deliver_to(
    sink: ShardedOutput | None,
    on_record: Callable[[dict[str, Any]], None] | None,
    result: ScaleResult,
) -> Callable[[list[dict[str, Any]]], None]:
    if sink is not None:
        return sink.write
    if on_record is not None:
        callback = on_record

        def each(records: list[dict[str, Any]]) -> None:
            for record in records:
                callback(record)

        return each
    return result.records.extend


def _read(
    ray: Any, inputs: Any, paths: list[Path] | None, done: frozenset[str], collector: Collector
) -> Dataset | None:
    if paths is not None:
        return _sources_dataset(ray, paths, done, collector)
    return _documents_dataset(inputs, done)


def _run(dataset: Dataset | None, collector: Collector) -> None:
    """Stream the job's rows into the collector; whatever finished is written, even when the
    job stops."""
    try:
        if dataset is not None:
            # no prefetching: a batch is written as soon as it is done, not when the next is
            batches = dataset.iter_batches(
                batch_size=None, batch_format="pyarrow", prefetch_batches=0
            )
            for table in batches:
                collector.take(stages.records_of(table))
    except Exception as exc:
        cause = _swerm_cause(exc)
        if cause is not None:
            raise cause from None
        raise ScaleError(
            f"the Ray job stopped: {type(exc).__name__}: {str(exc).strip()[:2000]}",
            hint="the finished shards are kept: fix the cause and run the same command again "
            "to resume (without an output file, nothing is kept)",
        ) from exc
    finally:
        collector.flush()


def score_dataset(
    inputs: Sequence[str | Path] | Dataset,
    *,
    config: SwermConfig | None = None,
    output: str | Path | None = None,
    shards: str | Path | None = None,
    actors: int = 1,
    gpus_per_actor: float = 0.0,
    cpus_per_actor: float | None = None,
    threads_per_actor: int | None = None,
    batch_size: int = 32,
    address: str | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    shard_size: int = 1000,
    flush_s: float = 30.0,
    ray_progress: bool = True,
) -> ScaleResult:
    """Score trajectory files or folders, or a Ray Dataset of JSON documents, on Ray.

    :param inputs: paths (read as ``swerm score`` reads them), or a ``ray.data.Dataset`` whose
        rows hold one trajectory document as JSON text in ``document`` (or ``text`` / ``bytes``,
        as ``read_text`` / ``read_binary_files`` make them), with an optional ``source_path``
        (or ``path``).
    :param output: the scores JSONL; its shards go to ``shards`` (default ``OUTPUT.shards/``).
        Content hashes already there are skipped. Without it, each record goes to
        ``on_record``, or into :attr:`ScaleResult.records`.
    :param actors: scoring actors, one verifier each, with ``gpus_per_actor`` GPUs (a local
        model), ``cpus_per_actor`` CPUs (default 0.5; 0.25 for a remote backend) and
        ``threads_per_actor`` torch threads (default: the cluster's CPUs shared out).
    :param batch_size: trajectories per render task and per actor call; ``address``: the
        Ray cluster to join when this process is not connected yet.
    :param shard_size, flush_s: a shard is written once this many records are ready, or this
        many seconds after the last one: a killed job loses at most that much work.
    :param ray_progress: Ray Data's progress log lines (off for the command line).
    """
    config = config if config is not None else load_config()
    if actors < 1 or batch_size < 1 or gpus_per_actor < 0 or shard_size < 1:
        raise ConfigError("actors, batch_size and shard_size must be at least 1, GPUs >= 0")
    get_hooks(config).check_template(config.template)
    ray = _import_ray()
    paths = None if isinstance(inputs, ray.data.Dataset) else [Path(p) for p in inputs]
    result = ScaleResult(output=None if output is None else Path(output))
    with contextlib.ExitStack() as stack:
        sink = _open_output(stack, result, shards, paths or [])
        deliver = _deliver_to(sink, on_record, result)
        collector = Collector(deliver, shard_size=shard_size if sink else 1, flush_s=flush_s)
        started = time.perf_counter()
        stack.enter_context(ray_session(address, progress=ray_progress))
        result.ray_start_s = time.perf_counter() - started
        plan = plan_actors(ray, config, actors, gpus_per_actor, cpus_per_actor, threads_per_actor)
        started = time.perf_counter()
        done = frozenset(sink.done) if sink is not None else frozenset()
        read = _read(ray, inputs, paths, done, collector)
        _run(None if read is None else _scored(ray, read, config, plan, batch_size), collector)
        result.job_s = time.perf_counter() - started
    result.update_from(collector.tally)
    return result
