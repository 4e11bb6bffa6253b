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


class WorkerDied(Exception):
    pass


class CellTimeout(Exception):
    pass


class Worker:
    """A worker process; `run(spec, timeout)` returns the cell result as a dict."""

    def __init__(self, config, log: IO[bytes] | None = None):
        self.config = config
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._buf = b""

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = {**os.environ, _FD_ENV: str(write_fd), _CONFIG_ENV: json.dumps(asdict(self.config))}
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

    def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        os.close(self._read_fd)
        self.proc = None

    def run(self, spec: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
        try:
            self.proc.stdin.write((json.dumps(spec) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise WorkerDied("worker process exited before taking the cell") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._read_fd], [], [], wait)
            if not ready:
                self.close()  # SIGKILL: a hung cell is killed, not waited for
                raise CellTimeout(f"exceeded the {timeout:g} s timeout and was killed")
            chunk = os.read(self._read_fd, 1 << 16)
            if not chunk:
                code = self.proc.wait()
                self.close()
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                raise WorkerDied(f"worker process died ({how}) while running the cell")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve() -> None:
    from ebmbench.cell import CellSpec, run_cell
    from ebmbench.registry import LoadConfig, format_exception, load_registry

    out = os.fdopen(int(os.environ[_FD_ENV]), "w", buffering=1)
    cfg = json.loads(os.environ[_CONFIG_ENV])
    config = LoadConfig(tuple(cfg["disabled"]), tuple(cfg["plugins_dirs"]), False)
    registry = load_registry(config)
    for line in sys.stdin:
        spec = json.loads(line)
        try:
            result = run_cell(CellSpec(**{**spec, "metrics": tuple(spec.get("metrics", ()))}), registry).to_json()
        except Exception as exc:  # e.g. a plugin whose constructor raises
            result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}".splitlines()[0],
                      "traceback": format_exception(exc)}
        out.write(json.dumps(result, allow_nan=True) + "\n")


if __name__ == "__main__":
    _serve()
