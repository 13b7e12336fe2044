"""The stand-in for dbt's subprocess: what dagster-dbt reads of it must be what a process gives."""

import itertools
import json
import os
import threading
import time

import pytest
from dagster_dbt.errors import DagsterDbtCliRuntimeError
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.defs.dbt_in_process import (
    EXIT_DBT_RAISED,
    InProcessDbt,
    InProcessDbtCliInvocation,
)
from billing_pipeline.defs.resources import LeanDbtCliResource, dbt_executable, dbt_project

ARGS = ["/venv/bin/dbt", "build", "--log-format", "json"]

# Text a process can write: a lone surrogate cannot be encoded for a pipe, by dbt's subprocess
# either (its stdout raises UnicodeEncodeError, as the stand-in does).
log_lines = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(lines=log_lines, cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6))
def test_log_lines_reach_the_reader_whole_and_in_order_however_dbt_writes_them(lines, cuts):
    text = "".join(line + "\n" for line in lines)
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})

    def run(_args, stdout):
        for start, end in itertools.pairwise(bounds):
            stdout.write(text[start:end])
        return 0

    dbt = InProcessDbt(ARGS, dict(os.environ), run)
    with dbt.stdout:
        read = [raw.decode() for raw in dbt.stdout]
    assert read == lines
    assert dbt.wait() == 0
    assert dbt.stdout.closed


def test_dbt_gets_the_arguments_after_the_executable_and_the_exit_code_is_dbts():
    seen = []

    def run(args, _stdout):
        seen.append(list(args))
        return 1

    dbt = InProcessDbt(ARGS, dict(os.environ), run)
    assert list(dbt.stdout) == []
    assert list(dbt.stdout) == []  # read again after the end: nothing, and no wait
    assert dbt.wait() == 1 and dbt.returncode == 1
    assert seen == [ARGS[1:]]
    assert dbt.args == ARGS  # dagster-dbt names the command from it


def test_dbt_sees_the_invocation_environment_and_the_process_gets_its_own_back(monkeypatch):
    monkeypatch.setenv("BILLING_ONLY_OUTSIDE", "kept")
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    env = {k: v for k, v in os.environ.items() if k != "BILLING_ONLY_OUTSIDE"}
    env["DBT_TARGET_PATH"] = "/somewhere/target"
    inside = {}

    def run(_args, _stdout):
        inside["target"] = os.environ.get("DBT_TARGET_PATH")
        inside["outside"] = os.environ.get("BILLING_ONLY_OUTSIDE")
        return 0

    dbt = InProcessDbt(ARGS, env, run)
    list(dbt.stdout)
    assert dbt.wait() == 0
    assert inside == {"target": "/somewhere/target", "outside": None}
    assert "DBT_TARGET_PATH" not in os.environ
    assert os.environ["BILLING_ONLY_OUTSIDE"] == "kept"


def _error_messages(lines: list[bytes]) -> list[str]:
    events = [json.loads(line) for line in lines]
    return [e["info"]["msg"] for e in events if e["info"]["level"] == "error"]


def test_an_exception_inside_dbt_is_an_error_line_and_dbts_own_exit_code():
    def run(_args, stdout):
        stdout.write('{"info": {"level": "info", "msg": "started", "name": "X"}, "data": {}}\n')
        raise RuntimeError("adapter exploded")

    dbt = InProcessDbt(ARGS, dict(os.environ), run)
    lines = list(dbt.stdout)
    assert dbt.wait() == EXIT_DBT_RAISED
    assert _error_messages(lines) == ["dbt raised RuntimeError: adapter exploded"]
    assert json.loads(lines[0])["info"]["msg"] == "started"


def test_an_interrupt_stops_a_running_dbt_and_is_reported_as_its_error():
    started = threading.Event()

    def run(_args, _stdout):
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a build that would run on for 30 s
            time.sleep(0.01)
        return 0

    dbt = InProcessDbt(ARGS, dict(os.environ), run)
    assert started.wait(5)
    began = time.monotonic()
    dbt.send_signal(2)
    assert dbt.wait(timeout=10) == EXIT_DBT_RAISED
    assert time.monotonic() - began < 5
    assert _error_messages(list(dbt.stdout)) == ["dbt raised KeyboardInterrupt: "]


def _dbt_resource(in_process: bool) -> LeanDbtCliResource:
    return LeanDbtCliResource(
        project_dir=dbt_project, dbt_executable=dbt_executable(), in_process=in_process
    )


def test_the_resource_runs_dbt_in_this_process_with_the_subprocess_log(warehouse, tmp_path):
    # `dbt ls` parses the real project and lists its nodes without touching the warehouse.
    invocation = _dbt_resource(True).cli(["ls", "--resource-type", "model"], target_path=tmp_path)
    assert isinstance(invocation, InProcessDbtCliInvocation)
    names = [str(event) for event in invocation.stream_raw_events()]
    assert invocation.is_successful()
    assert "billing_pipeline.marts.ledger.account_balances_daily" in names
    assert (tmp_path / "manifest.json").exists()  # its target folder, as the subprocess's


def test_a_failing_dbt_command_raises_with_dbts_message_as_the_subprocess_did(warehouse, tmp_path):
    messages = []
    for in_process in (True, False):
        invocation = _dbt_resource(in_process).cli(
            ["run-operation", "no_such_macro"], target_path=tmp_path / str(in_process)
        )
        with pytest.raises(DagsterDbtCliRuntimeError) as raised:
            invocation.wait()
        messages.append(str(raised.value).split("Errors parsed from dbt logs:")[-1].strip())
    assert "no_such_macro" in messages[0]
    assert messages[0] == messages[1]


def test_a_malformed_dbt_command_line_fails_and_says_why(warehouse, tmp_path, capsys):
    # dbt logs no event for it: the usage message is passed on as a plain line, as the
    # subprocess printed it, and dagster-dbt echoes it into the step's log.
    invocation = _dbt_resource(True).cli(["build", "--no-such-flag"], target_path=tmp_path)
    with pytest.raises(DagsterDbtCliRuntimeError, match="exit code `2`"):
        invocation.wait()
    assert "--no-such-flag" in capsys.readouterr().out
