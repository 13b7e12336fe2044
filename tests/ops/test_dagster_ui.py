"""The Dagster UI, in a real headless Chromium: assets, checks, partitions and sensors show.

Starts `dagster-webserver` on the project's workspace (a free localhost port, a fresh
DAGSTER_HOME and warehouse), then renders pages with `chromium --headless --dump-dom`, which
runs the UI's JavaScript and its GraphQL queries before printing the DOM. Skipped when no
Chromium is installed (CI installs the Debian packages chromium and chromium-driver).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
if CHROMIUM is None:
    pytest.skip("no Chromium installed (apt-get install chromium)", allow_module_level=True)

_LOCATION_QUERY = (
    '{"query": "{ workspaceOrError { ... on Workspace { locationEntries '
    '{ name loadStatus locationOrLoadError { __typename } } } } }"}'
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _location_loaded(base: str) -> bool:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=_LOCATION_QUERY.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    return any(
        e["loadStatus"] == "LOADED"
        and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        for e in entries
    )


@pytest.fixture(scope="module")
def webserver(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "BILLING_INBOX": str(root / "inbox"),
        "BILLING_WAREHOUSE": str(root / "warehouse"),
    }
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (root / "webserver.log").open("w")
    process = subprocess.Popen(
        [str(WEBSERVER), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited: {(root / 'webserver.log').read_text()}")
            try:
                if _location_loaded(base):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the code location did not load within 180 s")
            time.sleep(1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _page_text(url: str, profile: Path, height: int = 2400) -> str:
    """The rendered page's visible text, after its scripts and queries ran.

    The UI renders long lists virtually (only rows inside the window): `height` makes the
    window tall enough to hold them all."""
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size=1600,{height}",
            "--virtual-time-budget=30000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", result.stdout, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_asset_catalog_lists_every_stage_with_its_partitions(webserver, tmp_path):
    text = _page_text(f"{webserver}/assets", tmp_path / "profile", height=20000)
    for asset in (
        "bank / bank_lines",
        "events / billing_events",
        "analytics",
        "ledger / journal_lines",
        "recon_store / discrepancies",
        "store / events",
    ):
        assert asset in text, asset
    assert re.search(r"\d+ partitions", text)


def test_the_ledger_shows_its_blocking_checks(webserver, tmp_path):
    text = _page_text(f"{webserver}/assets/ledger_store/journal_lines?view=checks", tmp_path / "p")
    for check in (
        "entries_balance",
        "trial_balance_nets_to_zero",
        "no_orphan_lines",
        "journal_rebuilds_identically",
    ):
        assert check in text, check
    assert "blocking asset check" in text


def test_the_published_asset_is_partitioned_by_business_date(webserver, tmp_path):
    text = _page_text(f"{webserver}/assets/analytics?view=partitions", tmp_path / "p")
    assert "Partitions" in text
    assert "2025-01-01" in text  # the first partition (BILLING_PARTITIONS_START)
    assert re.search(r"Missing \(\d+\)", text)  # nothing materialized in a fresh instance


def test_the_schedule_and_the_sensors_are_listed(webserver, tmp_path):
    text = _page_text(f"{webserver}/automation", tmp_path / "p")
    for name in (
        "daily_job_schedule",
        "inbox_sensor",
        "record_failed_run",
        "record_successful_run",
    ):
        assert name in text, name
