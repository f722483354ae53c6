"""Many independent jobs (days, shards) as Ray tasks: embedded on this machine by default, or a cluster.

Order references are day-unique, so days never share state: each is one task, and the results come
back in the order of the inputs whatever order the tasks finish in (the same bytes for any worker
count). `workers` bounds the tasks in flight, which is what the worker count means on a cluster too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from tqdm import tqdm

__all__ = ["ensure_ray", "map_tasks"]

T = TypeVar("T")
START_TRIES = 3


OBJECT_STORE_BYTES = 256 << 20  # embedded: results are a day's rows and fills, never large arrays


@contextmanager
def _lean_head() -> Iterator[None]:
    """While Ray starts embedded, leave out three of its nine Python processes, each importing Ray (over a third of
    the CPU its start takes, measured): the autoscaler monitor (nothing to scale on one machine), the log monitor
    (task output stays in Ray's session logs, not copied to the driver) and the dashboard's API server (the job and
    state APIs; tasks do not use it). `ray.init` has no option for these, so the head's parameters and its API
    server step are replaced for this start only; where this Ray lacks them, it starts as it would."""
    try:
        import ray._private.node as node
        import ray._private.parameter as parameter
    except ImportError:
        yield
        return

    base, api = parameter.RayParams, getattr(node.Node, "start_api_server", None)

    class Lean(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.no_monitor = True
            self.include_log_monitor = False

    def no_api_server(self: Any, **_: Any) -> None:
        self._webui_url = None

    parameter.RayParams = Lean
    if api is not None:
        node.Node.start_api_server = no_api_server
    try:
        yield
    finally:
        parameter.RayParams = base
        if api is not None:
            node.Node.start_api_server = api


def ensure_ray(workers: int | None = None, address: str | None = None) -> None:
    """Start Ray embedded with `workers` CPUs (default: this machine's), or join the cluster at `address`;
    nothing if Ray is already up in this process."""
    import ray

    if ray.is_initialized():
        return
    # The workers import tickgate from the driver's environment; quiet, no dashboard, no usage report.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=True, logging_level="ERROR")
        return
    # A raylet waits a fixed 15 s for its metrics agent to start and exits past that (ray-project/ray#65983),
    # which happens on a loaded machine: start again, up to START_TRIES times.
    for attempt in range(START_TRIES):
        try:
            with _lean_head():
                ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                         object_store_memory=OBJECT_STORE_BYTES, logging_level="ERROR",
                         _system_config={"enable_timeline": False})
            return
        except Exception:
            ray.shutdown()
            if attempt == START_TRIES - 1:
                raise


def map_tasks(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]], *, workers: int | None = None,
              address: str | None = None, progress: bool = False, desc: str = "days",
              on_result: Callable[[int, T], None] | None = None) -> list[T]:
    """`fn(*job)` for every job as a Ray task, at most `workers` at once; the results in job order.

    `on_result(index, result)` is called as each finishes (in finishing order); the progress bar counts
    finished jobs."""
    import ray

    ensure_ray(workers, address)
    limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    task = ray.remote(num_cpus=1, max_retries=0)(fn)
    results: list[Any] = [None] * len(jobs)
    index: dict[Any, int] = {}
    waiting = list(range(len(jobs)))[::-1]
    bar = tqdm(total=len(jobs), unit=desc.rstrip("s") or "job", desc=desc, disable=not progress, leave=False)
    try:
        while waiting or index:
            while waiting and len(index) < limit:
                i = waiting.pop()
                index[task.remote(*jobs[i])] = i
            done, _ = ray.wait(list(index), num_returns=1)
            for ref in done:
                i = index.pop(ref)
                results[i] = ray.get(ref)
                if on_result is not None:
                    on_result(i, results[i])
                bar.update(1)
    finally:
        bar.close()
        for ref in index:
            ray.cancel(ref, force=True)
    return results
