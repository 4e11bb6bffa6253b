"""The `dask` executor: cells on a Dask cluster, local or remote.

`--executor dask` starts a `distributed.LocalCluster` (one single-threaded worker
process per job); `--scheduler tcp://HOST:PORT` or `EBMBENCH_DASK_SCHEDULER` connects
to a running cluster instead (dask-jobqueue, Kubernetes, `dask scheduler` by hand), so
a grid can outgrow one machine. Each Dask worker runs its cells inside an ebmbench
worker process of its own (ebmbench.execution.worker), so timeouts, memory limits and
the clean-up of a plugin's processes hold on Dask exactly as on `process`.

Results travel back to the client as the same JSON-able dicts, gathered as each
completes; only the client writes the store. A Dask worker that dies mid-cell costs
one retry (Dask reschedules the cell; `allowed-failures` is 1 on the local cluster),
then the cell is an `error` with the reason.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from typing import Any

from ebmbench.errors import UsageError
from ebmbench.executor_api import CellResult, CellSpec, Executor, ExecutorSettings

__all__ = ["DaskExecutor", "SCHEDULER_ENV"]

SCHEDULER_ENV = "EBMBENCH_DASK_SCHEDULER"
_local = threading.local()  # one ebmbench worker per Dask worker thread


def _run_on_dask_worker(spec: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Runs inside a Dask worker: the cell in a (kept) ebmbench worker process."""
    from ebmbench.execution.worker import WorkerProcess

    worker = getattr(_local, "worker", None)
    if worker is None or getattr(_local, "settings", None) != settings:
        if worker is not None:
            worker.close()
        log_path = settings.get("log_path")
        # the client's log folder may not exist on a remote machine
        log = open(log_path, "ab") if log_path and os.path.isdir(os.path.dirname(log_path)) else None  # noqa: SIM115
        worker = WorkerProcess(
            settings["load_config"],
            log,
            settings["threads"],
            settings["timeout"],
            settings["max_memory_gb"],
            settings["startup_timeout"],
        )
        _local.worker, _local.settings = worker, settings
    return worker.run(spec)


class DaskExecutor(Executor):
    name = "dask"
    summary = "a Dask cluster: LocalCluster, or --scheduler tcp://HOST:PORT (pip install 'ebmbench[dask]')"
    reference = "Dask distributed; each Dask worker isolates its cells in an ebmbench worker process"

    def start(self, settings: ExecutorSettings) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise UsageError('--executor dask needs Dask: pip install "ebmbench[dask]"') from None
        self._settings = {
            "load_config": settings.load_config,
            "threads": settings.threads,
            "timeout": settings.timeout,
            "max_memory_gb": settings.max_memory_gb,
            "startup_timeout": settings.startup_timeout,
            "log_path": settings.log_path,
        }
        address = settings.scheduler or os.environ.get(SCHEDULER_ENV)
        self._cluster = None
        self._dask_futures: list = []
        try:
            if address:
                self._client = Client(address, timeout="30s")
            else:
                # one retry after a lost worker, then KilledWorker: the cell becomes an error
                with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.worker.daemon": False}):
                    self._cluster = LocalCluster(
                        n_workers=max(1, settings.jobs),
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=40,
                    )
                self._client = Client(self._cluster)
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler {address or '(local)'}: {exc}") from None

    def submit(self, spec: CellSpec) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        dask_future = self._client.submit(
            _run_on_dask_worker,
            spec.to_json(),
            self._settings,
            pure=False,
            key=f"ebmbench-cell-{spec.cell_id}-{os.urandom(4).hex()}",
        )

        def done(f) -> None:
            if future.done():
                return
            if f.status == "finished":
                future.set_result(CellResult.from_json(f.result()))
            elif f.status == "cancelled":
                future.cancel() or future.set_exception(InterruptedError("cancelled"))
            else:
                exc = f.exception()
                name = type(exc).__name__
                why = (
                    "the Dask worker running it died twice (retried once)"
                    if name == "KilledWorker"
                    else f"{name}: {exc}".splitlines()[0]
                )
                future.set_result(CellResult("error", f"dask: {why}"))

        dask_future.add_done_callback(done)
        self._dask_futures.append(dask_future)  # kept alive: a released Dask future is cancelled
        return future

    def shutdown(self, cancel: bool = False) -> None:
        client = getattr(self, "_client", None)
        if client is None:
            return
        try:
            if cancel:
                client.cancel([f for f in self._dask_futures if not f.done()], force=True)
            client.close(timeout=10)
        finally:
            if self._cluster is not None:
                self._cluster.close(timeout=10)  # its worker processes take their ebmbench workers along
