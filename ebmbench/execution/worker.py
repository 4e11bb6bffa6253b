"""A worker process that runs cells in isolation, and its handle in the parent.

The parent sends one JSON line per cell on the worker's stdin and reads one JSON line
back on a dedicated pipe (stdout and stderr belong to plugins and go to the run's
log). JSON both ways: no pickle.

The worker starts its own session (process group), so a timeout, a memory overrun
or an interrupted run kills it *and every process a plugin started* with one
`killpg(SIGKILL)` — SIGKILL, because a hung plugin cannot ignore it. While a cell runs
the parent samples the group's resident memory a few times a second: that enforces
`max_memory_gb` and gives timed-out cells their peak memory. A worker whose parent
dies (SIGKILL of `ebmbench run`) notices within a second and kills its group.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

__all__ = ["WorkerProcess", "group_rss_mb", "death_reason"]

_FD_ENV = "EBMBENCH_WORKER_FD"
_CONFIG_ENV = "EBMBENCH_WORKER_CONFIG"
_THREADS_ENV = "EBMBENCH_WORKER_THREADS"
_POLL_S = 0.2  # memory sampling and deadline checks while a cell runs
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 4096 / 2**20


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in group `pgid` (Linux /proc), in MiB."""
    total = 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ... rss is #21
            total += int(fields[21])
    return total * _PAGE_MB


_SIGNAL_HINTS = {
    signal.SIGKILL: "killed from outside the worker; often the kernel's out-of-memory killer",
    signal.SIGSEGV: "a segmentation fault in native code",
    signal.SIGBUS: "a bus error in native code",
    signal.SIGABRT: "aborted by native code",
}


def death_reason(code: int, when: str) -> str:
    if code >= 0:
        return f"worker process died (exit code {code}) {when}"
    sig = signal.Signals(-code)
    hint = _SIGNAL_HINTS.get(sig)
    return f"worker process died (signal {-code}, {sig.name}{': ' + hint if hint else ''}) {when}"


class WorkerProcess:
    """One worker; `run(spec)` runs a cell in it and returns the result dict.

    Every failure of the process itself comes back as a result with status `error` or
    `timeout` and a one-line reason; the next `run` starts a fresh worker."""

    def __init__(
        self,
        load_config: dict[str, Any],
        log: IO[bytes] | None = None,
        threads: int = 1,
        timeout: float | None = None,
        max_memory_gb: float | None = None,
        startup_timeout: float = 120.0,
    ):
        self.load_config = load_config
        self.log = log
        self.threads = threads
        self.timeout = timeout
        self.max_memory_mb = None if max_memory_gb is None else max_memory_gb * 1024
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self._read_fd = -1
        self._buf = b""
        self.stopped = False  # set by kill() from another thread: the run is being interrupted

    # ------------------------------------------------------------------ lifecycle
    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        # A fixed thread count per worker keeps numbers identical whatever --jobs is.
        env = {
            **os.environ,
            _FD_ENV: str(write_fd),
            _CONFIG_ENV: json.dumps(self.load_config),
            "OMP_NUM_THREADS": str(self.threads),
            _THREADS_ENV: str(self.threads),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ebmbench.execution.worker"],
            stdin=subprocess.PIPE,
            stdout=self.log or subprocess.DEVNULL,
            stderr=self.log or subprocess.DEVNULL,
            pass_fds=(write_fd,),
            env=env,
            start_new_session=True,  # its own process group: killpg reaches a plugin's children
        )
        os.close(write_fd)
        self._read_fd, self._buf = read_fd, b""

    def kill(self) -> None:
        """SIGKILL the worker's whole process group and reap it (safe from any thread)."""
        proc = self.proc
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()

    def close(self) -> None:
        if self.proc is None:
            return
        self.kill()
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        os.close(self._read_fd)
        self.proc = None

    # ------------------------------------------------------------------ one cell
    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
            # Interpreter start, the torch import and plugin loading are not the cell's
            # time and do not count against --timeout; they have a deadline of their own.
            ready = self._wait_line(self.startup_timeout, "while starting", starting=True)
            if ready.get("status"):
                return ready
        t0 = time.perf_counter()
        try:
            self.proc.stdin.write((json.dumps(spec) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            code = self.proc.wait()
            self.close()
            return {"status": "error", "reason": death_reason(code, "before taking the cell")}
        result = self._wait_line(self.timeout, "while running the cell")
        return {**result, "wall_time_s": time.perf_counter() - t0}

    def _wait_line(self, limit: float | None, when: str, starting: bool = False) -> dict[str, Any]:
        t0 = time.monotonic()
        deadline = None if limit is None else t0 + limit
        peak = 0.0
        while b"\n" not in self._buf:
            wait = _POLL_S if deadline is None else max(0.0, min(_POLL_S, deadline - time.monotonic()))
            ready, _, _ = select.select([self._read_fd], [], [], wait)
            if ready:
                chunk = os.read(self._read_fd, 1 << 16)
                if not chunk:
                    return self._died(when, peak)
                self._buf += chunk
                continue
            if self.stopped:
                return self._ended({"status": "error", "reason": "interrupted"}, peak)
            rss = group_rss_mb(self.proc.pid)
            peak = max(peak, rss)
            if self.max_memory_mb is not None and rss > self.max_memory_mb:
                reason = f"out of memory (limit {self.max_memory_mb / 1024:g} GB: {rss / 1024:.2f} GB resident {when})"
                return self._ended({"status": "error", "reason": reason}, peak)
            if deadline is not None and time.monotonic() >= deadline:
                if starting:
                    return self._ended(
                        {
                            "status": "error",
                            "reason": f"worker did not start within {limit:g} s (plugin import hung?); see worker.log",
                        },
                        peak,
                    )
                return self._ended(
                    {"status": "timeout", "reason": f"exceeded the {limit:g} s timeout and was killed"}, peak
                )
        line, self._buf = self._buf.split(b"\n", 1)
        result = json.loads(line)
        if not result.get("peak_mem_mb") and peak:
            result["peak_mem_mb"] = peak
        return result

    def _ended(self, result: dict[str, Any], peak: float) -> dict[str, Any]:
        self.close()  # a killed cell leaves nothing running behind it
        return {**result, "peak_mem_mb": peak or None}

    def _died(self, when: str, peak: float) -> dict[str, Any]:
        code = self.proc.wait()
        self.close()
        if self.stopped:
            return {"status": "error", "reason": "interrupted"}
        return {"status": "error", "reason": death_reason(code, when), "peak_mem_mb": peak or None}


# ---------------------------------------------------------------------- child side
def _warm_up(torch) -> None:
    """The first optimiser step imports torch._dynamo and sympy (~1.4 s here): pay it
    before "ready", so it lands on no cell's train time or curve."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p])
    (p * 2).sum().backward()
    opt.step()


def _orphan_watchdog(parent: int) -> None:
    """Kill this worker's group once its parent is gone (it was SIGKILLed)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _serve() -> None:
    from ebmbench.execution.cell import run_cell
    from ebmbench.errors import strip_control
    from ebmbench.executor_api import CellSpec
    from ebmbench.registry import LoadConfig, format_exception, load_registry

    threading.Thread(target=_orphan_watchdog, args=(os.getppid(),), daemon=True).start()
    out = os.fdopen(int(os.environ[_FD_ENV]), "w", buffering=1)
    cfg = json.loads(os.environ[_CONFIG_ENV])
    registry = load_registry(LoadConfig(tuple(cfg.get("disabled", ())), tuple(cfg.get("plugins_dirs", ())), False))
    import torch  # every cell needs it; imported before "ready", not on a cell's clock

    torch.set_num_threads(int(os.environ.get(_THREADS_ENV, "1")))
    _warm_up(torch)

    out.write(json.dumps({"ready": True}) + "\n")  # the parent starts the cell's clock now
    for line in sys.stdin:
        spec = CellSpec.from_json(json.loads(line))
        try:
            result = run_cell(spec, registry).to_json()
        except Exception as exc:  # e.g. a plugin whose constructor raises
            result = {
                "status": "error",
                "reason": strip_control(f"{type(exc).__name__}: {exc}").splitlines()[0],
                "traceback": strip_control(format_exception(exc)),
            }
        out.write(json.dumps(result, allow_nan=True) + "\n")


if __name__ == "__main__":
    _serve()
