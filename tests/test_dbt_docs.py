"""The dbt docs site draws a model's lineage in a real browser.

``dbt docs generate`` and ``dbt docs serve``, as ``make docs`` runs them, on a free loopback port;
headless Chromium (Debian's ``chromium``, driven by Playwright) opens ``fct_orders`` and its
lineage graph. A screenshot is saved to ``test-artifacts/screenshots/`` for people to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests
from helpers import CHROMIUM_ARGS, DBT, free_port, run_dbt

from warehouse.paths import PROJECT_ROOT

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    pytest.skip("playwright is not installed (make install)", allow_module_level=True)

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("no chromium on PATH (Debian: apt-get install chromium)", allow_module_level=True)

SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "screenshots" / "dbt-docs-fct_orders-lineage.png"
SERVER_START_TIMEOUT_SECONDS = 60
VISIBLE_NODES = """() => document.getElementById('cy')._cyreg.cy.nodes()
    .filter(node => node.visible()).map(node => node.data('label'))"""
"""The names the lineage graph draws: dbt docs draws it with Cytoscape on a canvas, whose nodes
are not in the page's DOM."""


@pytest.fixture(scope="module")
def docs_site(warehouse, tmp_path_factory) -> Iterator[str]:
    """The project's dbt docs, generated and served as ``make docs`` does."""
    target = tmp_path_factory.mktemp("dbt-docs") / "target"
    generate = run_dbt("docs", "generate", "--quiet", "--target-path", str(target))
    assert generate.returncode == 0, generate.stdout + generate.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            *(DBT, "docs", "serve", "--host", "127.0.0.1", "--port", str(port)),
            *("--no-browser", "--target-path", str(target)),
        ],
        cwd=PROJECT_ROOT / "dbt_project",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        while not _serving(url):
            assert server.poll() is None, f"dbt docs serve exited with {server.returncode}"
            assert time.monotonic() < deadline, f"dbt docs not serving {url}"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


def _serving(url: str) -> bool:
    try:
        return requests.get(f"{url}/catalog.json", timeout=2).ok
    except requests.ConnectionError:
        return False


def test_the_lineage_of_fct_orders_shows_its_parent_and_children(docs_site):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.goto(f"{docs_site}/#!/model/model.elt_platform.fct_orders")
            expect(page.get_by_role("heading", name="fct_orders")).to_be_visible()
            page.get_by_title("View Lineage Graph").click()

            # The graph's --select field (an Angular-bound value, not an attribute).
            page.wait_for_function(
                "() => [...document.querySelectorAll('input')]"
                ".some(field => field.value === '+fct_orders+')"
            )
            page.wait_for_function(f"({VISIBLE_NODES})().includes('fct_orders')")
            drawn = set(page.evaluate(VISIBLE_NODES))
        finally:
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOT)
            browser.close()

    assert {"int_orders_enriched", "fct_orders", "rpt_daily_revenue_by_channel"} <= drawn
    assert "dim_products" not in drawn, "only fct_orders' own lineage is drawn"
