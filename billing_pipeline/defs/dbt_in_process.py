"""dbt run on a thread of the step's own process, behind what dagster-dbt reads of a subprocess.

dagster-dbt starts `dbt` as a subprocess and reads its JSON log lines from the pipe. That
process imports dbt and the Python models' modules again, which the step's process already
holds. Here the same arguments go through dbt's programmatic entry point (`dbtRunner`), and its
log lines, the very lines the subprocess would print, reach dagster-dbt through a stand-in for
the process: asset events, checks and errors are made from them exactly as before. The dbt
step of a 10-payment day took 1.0-1.6 s less in six alternating pairs; at 1M payments, where
the nodes' SQL is the step, it is the same either way (benchmarks/RESULTS.md, session 36).
"""

import ctypes
import json
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from unittest import mock

from dagster import get_dagster_logger
from dagster_dbt.core import resource as dagster_dbt_resource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

# dbt's exit codes: 1 when a node failed, 2 when dbt itself raised.
EXIT_NODE_FAILED = 1
EXIT_DBT_RAISED = 2


class LogLines:
    """The stand-in's stdout: the lines written to it, as bytes and in order, until `end`."""

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._pending = ""
        self._lock = threading.Lock()
        self._ended = False
        self.closed = False

    def write(self, text: str) -> None:
        # dbt's logger hands over a line and its newline in one call, but nothing promises
        # whole lines: they are cut here, and a part waits for the rest.
        with self._lock:
            *whole, self._pending = (self._pending + text).split("\n")
            for line in whole:
                self._queue.put(line.encode())

    def flush(self) -> None:
        pass

    def end(self) -> None:
        with self._lock:
            if self._pending:
                self._queue.put(self._pending.encode())
                self._pending = ""
            self._queue.put(None)

    def __iter__(self) -> Iterator[bytes]:
        # Once the end was read, reading again finds nothing instead of waiting forever.
        while not self._ended and (line := self._queue.get()) is not None:
            yield line
        self._ended = True

    def __enter__(self) -> "LogLines":
        return self

    def __exit__(self, *_exc) -> None:
        self.closed = True


def error_line(message: str) -> str:
    """A log line shaped like dbt's own error events, so dagster-dbt reports the message."""
    info = {"level": "error", "msg": message, "name": "InProcessDbtError"}
    return json.dumps({"info": info, "data": {}}) + "\n"


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` is `env` inside the block: dbt reads its flags and the profile from it.

    Only the variables that differ are touched, so other threads never see it half set."""
    saved = {name: os.environ.get(name) for name in set(env) | set(os.environ)}
    _set_environment({name: env.get(name) for name in saved})
    try:
        yield
    finally:
        _set_environment(saved)


def _set_environment(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        elif os.environ.get(name) != value:
            os.environ[name] = value


def run_dbt(dbt_args: Sequence[str], stdout: LogLines) -> int:
    """One dbt invocation through `dbtRunner`: its stdout log lines to `stdout`, its exit code."""
    from dbt.adapters.duckdb import DuckDBConnectionManager
    from dbt.cli.exceptions import DbtUsageException
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import capture_stdout_logs, stop_capture_stdout_logs

    capture_stdout_logs(stdout)
    try:
        result = dbtRunner().invoke(list(dbt_args))
    finally:
        stop_capture_stdout_logs()
        # dbt-duckdb keeps its database open after a run (`keep_open`, its default), which
        # would stop the next step of this process opening the warehouse with its own settings.
        # Its maintainers' remedy for programmatic runs (duckdb/dbt-duckdb#616):
        DuckDBConnectionManager.close_all_connections()
    if result.success:
        return 0
    if result.exception is None:
        return EXIT_NODE_FAILED
    # dbt logs an error event for whatever its commands raise. Only a malformed command line
    # is not logged: the subprocess printed click's usage message as plain text, so does this.
    if isinstance(result.exception, DbtUsageException):
        stdout.write(f"{result.exception}\n")
    return EXIT_DBT_RAISED


class InProcessDbt:
    """What `DbtCliInvocation` uses of a `subprocess.Popen` (`args`, `stdout`, `wait`,
    `returncode`, `send_signal`), for `run(args[1:], stdout)` on a thread, in `env`."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        run: Callable[[Sequence[str], LogLines], int] = run_dbt,
    ) -> None:
        self.args = list(args)
        self.returncode: int | None = None
        self.stdout = LogLines()
        # An interrupt is raised in the thread only while `run` runs, never in the code that
        # ends the log, or the reader would wait forever.
        self._interruptible = True
        self._interrupt_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, args=(run, self.args[1:], env), name="dbt", daemon=True
        )
        self._thread.start()

    def _run(self, run, dbt_args: Sequence[str], env: Mapping[str, str]) -> None:
        try:
            try:
                with environment(env):
                    self.returncode = run(dbt_args, self.stdout)
            finally:
                with self._interrupt_lock:
                    self._interruptible = False
        except BaseException as error:  # an interrupt included: the step reports it as dbt's
            self.stdout.write(error_line(f"dbt raised {type(error).__name__}: {error}"))
            self.returncode = EXIT_DBT_RAISED
        finally:
            self.stdout.end()

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        return self.returncode

    def send_signal(self, _signal: int) -> None:
        """Interrupt dbt as Ctrl-C would: dbt cancels its open queries and stops."""
        with self._interrupt_lock:
            if self._interruptible and self._thread.ident is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._thread.ident), ctypes.py_object(KeyboardInterrupt)
                )


class InProcessDbtCliInvocation(DbtCliInvocation):
    """`DbtCliInvocation` whose dbt runs on a thread of this process instead of a subprocess.

    Unlike the subprocess start, it copies no `partial_parse.msgpack` from the project's
    target folder: the caller passes a target folder that keeps its own (`dbt_target_path`).
    """

    @classmethod
    def run(cls, *, args, env, dbt_project=None, **fields) -> "InProcessDbtCliInvocation":
        invocation = cls(process=InProcessDbt(args, env), project=dbt_project, **fields)
        get_dagster_logger().info(f"Running dbt in process: `{invocation.dbt_command}`.")
        return invocation


@contextmanager
def dbt_in_process() -> Iterator[None]:
    """Within the block, `DbtCliResource.cli` starts dbt in this process.

    `cli` builds the arguments, environment and target folder and hands them to
    `DbtCliInvocation.run`; swapping that one class keeps all of `cli` as dagster-dbt wrote it.
    `mock.patch.object` fails loudly if a dagster-dbt upgrade renames it. The swap is
    process-wide, so two threads must not start dbt at once; the pipeline never does (its
    DuckDB writers, dbt among them, run one at a time: the `duckdb` pool).
    """
    with mock.patch.object(dagster_dbt_resource, "DbtCliInvocation", InProcessDbtCliInvocation):
        yield
