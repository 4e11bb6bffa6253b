"""Isolated execution of cells in a separate Python process.

The parent sends one JSON line per cell on the worker's stdin and reads one JSON
line back on a dedicated pipe (stdout and stderr belong to plugins and go to the
run's log). A cell that exceeds its timeout is killed with SIGKILL — a hung plugin
cannot ignore it — and the next cell gets a fresh worker. JSON both ways: no pickle.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import asdict
from typing import IO, Any

__all__ = ["Worker", "WorkerDied", "CellTimeout"]

_FD_ENV = "EBMBENCH_WORKER_FD"
_CONFIG_ENV = "EBMBENCH_WORKER_CONFIG"
_THREADS_ENV = "EBMBENCH_WORKER_THREADS"


class WorkerDied(Exception):
    pass


class CellTimeout(Exception):
    pass


class Worker:
    """A worker process. `run(spec, timeout)` runs one cell and waits for it; the
    executor uses `submit` / `poll` / `expired` to keep several workers busy."""

    def __init__(self, config, log: IO[bytes] | None = None, threads: int = 1):
        self.config = config
        self.log = log
        self.threads = threads
        self.proc: subprocess.Popen | None = None
        self._buf = b""
        self.deadline: float | None = None
        self.timeout: float | None = None

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        # A fixed thread count per worker keeps numbers identical whatever --jobs is.
        env = {**os.environ, _FD_ENV: str(write_fd), _CONFIG_ENV: json.dumps(asdict(self.config)),
               "OMP_NUM_THREADS": str(self.threads), _THREADS_ENV: str(self.threads)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ebmbench.worker"],
            stdin=subprocess.PIPE,
            stdout=self.log or subprocess.DEVNULL,
            stderr=self.log or subprocess.DEVNULL,
            pass_fds=(write_fd,),
            env=env,
        )
        os.close(write_fd)
        self._read_fd = read_fd
        self._buf = b""
        # Wait for the worker's "ready" line: interpreter start, the torch import and
        # plugin loading are not the cell's time and must not count against --timeout.
        self._read_line(None, "while starting")

    def fileno(self) -> int:
        return self._read_fd

    def close(self) -> None:
        self.deadline = None
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        os.close(self._read_fd)
        self.proc = None

    def submit(self, spec: dict[str, Any], timeout: float | None) -> None:
        """Send one cell; its clock starts now."""
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
        try:
            self.proc.stdin.write((json.dumps(spec) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise WorkerDied("worker process exited before taking the cell") from None
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def kill_expired(self) -> None:
        self.close()  # SIGKILL: a hung cell is killed, not waited for
        raise CellTimeout(f"exceeded the {self.timeout:g} s timeout and was killed")

    def poll(self) -> dict[str, Any] | None:
        """Read what is available without blocking; the result once a whole line came."""
        if b"\n" not in self._buf:
            chunk = os.read(self._read_fd, 1 << 16)
            if not chunk:
                self._died("while running the cell")
            self._buf += chunk
        if b"\n" not in self._buf:
            return None
        line, self._buf = self._buf.split(b"\n", 1)
        self.deadline = None
        return json.loads(line)

    def run(self, spec: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        self.submit(spec, timeout)
        return self._read_line(self.deadline, "while running the cell", timeout)

    def _died(self, when: str) -> None:
        code = self.proc.wait()
        self.close()
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        raise WorkerDied(f"worker process died ({how}) {when}")

    def _read_line(self, deadline: float | None, when: str, timeout: float | None = None) -> dict[str, Any]:
        while b"\n" not in self._buf:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._read_fd], [], [], wait)
            if not ready:
                self.timeout = timeout
                self.kill_expired()
            chunk = os.read(self._read_fd, 1 << 16)
            if not chunk:
                self._died(when)
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        self.deadline = None
        return json.loads(line)

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _warm_up(torch) -> None:
    """The first optimiser step imports torch._dynamo and sympy (~1.4 s here): pay it
    before "ready", so it lands on no cell's train time or curve."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p])
    (p * 2).sum().backward()
    opt.step()


def _serve() -> None:
    from ebmbench.cell import CellSpec, run_cell
    from ebmbench.registry import LoadConfig, format_exception, load_registry

    out = os.fdopen(int(os.environ[_FD_ENV]), "w", buffering=1)
    cfg = json.loads(os.environ[_CONFIG_ENV])
    config = LoadConfig(tuple(cfg["disabled"]), tuple(cfg["plugins_dirs"]), False)
    registry = load_registry(config)
    import torch  # every cell needs it; imported before "ready", not on a cell's clock

    torch.set_num_threads(int(os.environ.get(_THREADS_ENV, "1")))
    _warm_up(torch)

    out.write(json.dumps({"ready": True}) + "\n")  # the parent starts the cell's clock now
    for line in sys.stdin:
        spec = json.loads(line)
        try:
            result = run_cell(CellSpec(**{**spec, "metrics": tuple(spec.get("metrics", ())),
                                               "curve_metrics": tuple(spec.get("curve_metrics", ()))}),
                              registry).to_json()
        except Exception as exc:  # e.g. a plugin whose constructor raises
            result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}".splitlines()[0],
                      "traceback": format_exception(exc)}
        out.write(json.dumps(result, allow_nan=True) + "\n")


if __name__ == "__main__":
    _serve()
