"""Browser-visible first render: `streamlit run app.py` on 127.0.0.1 and Debian's Chromium (Playwright), timing from
navigation to the page's key content being on screen, for the first visit of a new browser session (target < 2 s),
and the very first visit after the server starts (imports included; reported, no target).

Machine: the workplace's 2-core container. Needs /usr/bin/chromium and the playwright package (never
`playwright install`).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
PAGES = [("cohort-statistics", "Table 1: characteristics"), ("survival-analysis", "Log-rank test"),
         ("patient-result", "Upload an export"), ("", "Where to go")]


def main() -> None:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from test_browser import streamlit_server

    with streamlit_server(Path(tempfile.mkdtemp()) / "bench.sqlite") as url:
        print(f"{'work':<62}{'seconds':>9}{'target':>9}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for label, fresh in (("first visit after server start", True), ("first visit of a new session", False)):
                for path, marker in PAGES:
                    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                    pg = ctx.new_page()
                    t0 = time.perf_counter()
                    pg.goto(f"{url}/{path}")
                    pg.get_by_text(marker).first.wait_for(timeout=60_000)
                    dt = time.perf_counter() - t0
                    ctx.close()
                    print(f"{f'{label}: /{path}':<62}{dt:>9.2f}{'' if fresh else '2':>9}")
                    fresh = False
            browser.close()


if __name__ == "__main__":
    main()
