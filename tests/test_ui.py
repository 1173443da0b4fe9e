"""The Dagster UI draws the asset lineage graph in a real browser.

The webserver serves ``orchestration.definitions`` on a free loopback port and headless Chromium
(Debian's ``chromium``, driven by Playwright) opens the global asset lineage page. A screenshot
of the graph is saved to ``test-artifacts/screenshots/`` for people to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from helpers import CHROMIUM_ARGS, free_port, outside_the_project

from warehouse.paths import PROJECT_ROOT

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:
    pytest.skip("playwright is not installed (make install)", allow_module_level=True)

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("no chromium on PATH (Debian: apt-get install chromium)", allow_module_level=True)

WEBSERVER = str(Path(sys.executable).with_name("dagster-webserver"))
SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "screenshots" / "asset-graph.png"
SERVER_START_TIMEOUT_SECONDS = 90
GRAPH_RENDER_TIMEOUT_MS = 30_000

CUSTOMER_LINEAGE = '+key:"staging/stg_shop__customers"+'
"""Everything upstream and downstream of the customers staging model: few enough assets that
the graph fits the window at a zoom where full names are drawn."""

VIEWPORT = {"width": 2560, "height": 1440}

expect.set_options(timeout=GRAPH_RENDER_TIMEOUT_MS)


def _server_log(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-5000:]


def _stop(server: subprocess.Popen) -> None:
    """Stop the webserver and the code server it started, which share its process group."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _wait_until_serving(server: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, (
            f"dagster-webserver exited with {server.returncode}:\n{_server_log(log_path)}"
        )
        try:
            if requests.get(f"{url}/server_info", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"dagster-webserver not serving {url} after {SERVER_START_TIMEOUT_SECONDS}s:\n"
        f"{_server_log(log_path)}"
    )


@pytest.fixture(scope="module")
def webserver(dbt_manifest, tmp_path_factory) -> Iterator[str]:
    """The Dagster webserver on a free loopback port, serving the project's definitions."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("webserver")
    log_path = folder / "webserver.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [WEBSERVER, "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)],
            cwd=folder / "cwd",
            env={**os.environ, **outside_the_project(folder / "cwd")},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(server, url, log_path)
        yield url
    finally:
        _stop(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the system: Playwright's own browser download needs the internet."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    # Dagster asks local users to join its community in a dialog that would cover the graph.
    context.add_init_script("window.localStorage.setItem('communityNux', '\"1\"')")
    yield context.new_page()
    context.close()


def test_asset_graph_shows_the_customer_lineage(webserver, page):
    page.goto(f"{webserver}/asset-groups~{quote(CUSTOMER_LINEAGE, safe='')}")
    graph = page.locator("svg")
    try:
        expect(graph.get_by_text("staging", exact=True)).to_be_visible()
        # Groups start collapsed; Alt+E is the graph's "expand all groups" shortcut. It records
        # the open groups in the URL, and reloading lays the expanded graph out to fit the window.
        page.keyboard.press("Alt+e")
        expect(graph.get_by_text("stg_shop__customers", exact=True)).to_be_attached()
        page.reload()

        for name in [
            "dim_customers",
            "stg_shop__customers",
            "int_customers_depersonalised",
            "snap_shop__customers",
        ]:
            expect(graph.get_by_text(name, exact=True)).to_be_in_viewport()
        # The dbt source shop/customers and the dlt asset raw_shop/customers that loads it.
        raw_customers = graph.get_by_text("customers", exact=True)
        expect(raw_customers).to_have_count(2)
        for node in raw_customers.all():
            expect(node).to_be_in_viewport()
        # Each node then fills in its live status from the webserver's GraphQL API.
        expect(graph.get_by_text("Loading...")).to_have_count(0)
    finally:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT)
