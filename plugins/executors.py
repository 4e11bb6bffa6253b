"""The built-in executors (`process`, `serial`, `dask`), registered through the same
hook a third-party executor uses. Their code is the core's execution layer
(ebmbench/execution/); this plugin only makes them selectable, exactly as a package's
own executor would be."""

from ebmbench.execution.dask_executor import DaskExecutor
from ebmbench.execution.local import ProcessExecutor, SerialExecutor
from ebmbench.hookspecs import hookimpl

__all__ = ["ebmbench_register_executors"]


@hookimpl
def ebmbench_register_executors(register):
    for cls in (ProcessExecutor, SerialExecutor, DaskExecutor):
        register(cls)
