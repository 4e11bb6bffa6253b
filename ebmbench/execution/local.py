"""The two executors on this machine: `process` (isolated worker processes, the
default) and `serial` (in the main process, for debugging with --pdb).

`process` keeps `jobs` worker processes, each driven by one thread of the main
process that takes the next queued cell, runs it in its worker (ebmbench.execution
.worker: own process group, timeout, start-up deadline, memory limit) and completes
the cell's future. `serial` trades isolation for a debugger: a segfault or
`os._exit` in a plugin ends the whole run, and its timeout (SIGALRM) interrupts only
Python code.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from concurrent.futures import Future
from typing import IO

from ebmbench.errors import strip_control
from ebmbench.execution.worker import WorkerProcess
from ebmbench.executor_api import CellResult, CellSpec, Executor, ExecutorSettings

__all__ = ["ProcessExecutor", "SerialExecutor"]


class ProcessExecutor(Executor):
    name = "process"
    summary = "isolated worker processes on this machine (-j N side by side); the default"
    reference = "one process group per worker: timeouts and interrupts kill what a plugin started"

    def start(self, settings: ExecutorSettings) -> None:
        self.settings = settings
        self._queue: queue.Queue = queue.Queue()
        # one log for the executor's lifetime, shared by its workers (closed in shutdown)
        self._log: IO[bytes] | None = open(settings.log_path, "ab") if settings.log_path else None  # noqa: SIM115
        self._workers = [
            WorkerProcess(
                settings.load_config,
                self._log,
                settings.threads,
                settings.timeout,
                settings.max_memory_gb,
                settings.startup_timeout,
            )
            for _ in range(max(1, settings.jobs))
        ]
        self._threads = [
            threading.Thread(target=self._drive, args=(w,), daemon=True, name=f"ebmbench-worker-{i}")
            for i, w in enumerate(self._workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, spec: CellSpec) -> Future:
        future: Future = Future()
        self._queue.put((spec, future))
        return future

    def _drive(self, worker: WorkerProcess) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            spec, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = worker.run(spec.to_json())
            except Exception as exc:  # noqa: BLE001 - a broken pipe or the like costs this cell only
                worker.close()
                result = {"status": "error", "reason": strip_control(f"worker failure: {type(exc).__name__}: {exc}")}
            if worker.stopped:
                future.cancel() or future.set_exception(InterruptedError("executor shut down"))
                return
            future.set_result(CellResult.from_json(result))

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            while True:  # queued cells never start
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].cancel()
            for w in self._workers:
                w.stopped = True
                w.kill()
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=10)
        for w in self._workers:
            w.close()
        if self._log:
            self._log.close()


class _CellAlarm(BaseException):
    """Raised by SIGALRM inside a serial cell; BaseException so plugins' `except
    Exception` cannot swallow it."""


class SerialExecutor(Executor):
    name = "serial"
    summary = "cells one by one in the main process: tracebacks and --pdb, no isolation"
    reference = "for debugging a plugin; a crash in native code ends the run"
    in_process = True

    def start(self, settings: ExecutorSettings) -> None:
        if settings.registry is None:
            raise ValueError("the serial executor needs the main process's registry")
        self.settings = settings

    def submit(self, spec: CellSpec) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        future.set_result(self._run(spec))
        return future

    def _run(self, spec: CellSpec) -> CellResult:
        import torch

        from ebmbench.execution.cell import run_cell

        on_error = None
        if self.settings.pdb:
            import pdb

            def on_error(exc):
                print(f"--pdb: {type(exc).__name__}: {exc}")
                pdb.post_mortem(exc.__traceback__)

        threads = torch.get_num_threads()
        torch.set_num_threads(self.settings.threads)  # the same count a worker would use
        timeout = self.settings.timeout
        use_alarm = timeout is not None and threading.current_thread() is threading.main_thread()
        if use_alarm:
            previous = signal.signal(signal.SIGALRM, _raise_alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        t0 = time.perf_counter()
        try:
            result = run_cell(spec, self.settings.registry, on_error=on_error)
        except _CellAlarm:
            result = CellResult("timeout", f"exceeded the {timeout:g} s timeout and was interrupted")
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            torch.set_num_threads(threads)
        result.wall_time_s = time.perf_counter() - t0
        return result

    def shutdown(self, cancel: bool = False) -> None:
        pass


def _raise_alarm(signum, frame) -> None:
    raise _CellAlarm()
