"""Browser-visible first render: `streamlit run app.py` on 127.0.0.1 and Debian's Chromium (Playwright), timing from
navigation to the page's key content being on screen.

Three cases per page (median of REPS runs each):
- after server start: the first visit of each page after the server starts (imports included; reported, no target);
- new browser: a browser profile that has never opened the app (nothing cached: Streamlit's ~2 MB of JavaScript is
  downloaded and compiled; reported, no target: it is Streamlit's frontend, not this app);
- new session: a new tab of a browser that has opened this page before (Streamlit's bundles, and the chunks each
  kind of element loads, are served content-hashed and "immutable", so a real browser keeps them), i.e. a new
  Streamlit session of a returning user: target < 2 s.

Columns: "title" is the time to the page's first element (Streamlit's frontend has started and the session's
first messages have arrived), "seconds" the time to the key content (the target).

Machine: the workplace's 2-core container, headless Chromium without a GPU. Needs /usr/bin/chromium and the
playwright package (never `playwright install`). Usage: python bench/bench_browser.py [REPS]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
PAGES = [("cohort-statistics", "Table 1: characteristics"), ("survival-analysis", "Log-rank test"),
         ("patient-result", "Upload an export"), ("", "Where to go")]


def _visit(ctx, url: str, path: str, marker: str) -> tuple[float, float]:
    """Seconds from navigation to the page's first element (its title: Streamlit's frontend has started and the
    session's first messages have arrived) and to its key content."""
    pg = ctx.new_page()
    t0 = time.perf_counter()
    pg.goto(f"{url}/{path}", wait_until="commit")
    pg.locator("h1").first.wait_for(timeout=60_000)
    first = time.perf_counter() - t0
    pg.get_by_text(marker).first.wait_for(timeout=60_000)
    dt = time.perf_counter() - t0
    pg.close()
    return first, dt


def main() -> None:
    from playwright.sync_api import sync_playwright

    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from test_browser import streamlit_server

    with streamlit_server(Path(tempfile.mkdtemp()) / "bench.sqlite") as url:
        print(f"{'work':<58}{'title':>9}{'seconds':>9}{'target':>9}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for path, marker in PAGES:
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                first, dt = _visit(ctx, url, path, marker)
                print(f"{f'after server start: /{path}':<58}{first:>9.2f}{dt:>9.2f}{'':>9}", flush=True)
                ctx.close()
            for label, warm in (("new browser", False), ("new session", True)):
                for path, marker in PAGES:
                    times, firsts = [], []
                    for _ in range(reps):
                        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                        if warm:  # this browser has opened this page before: its cache holds the page's bundles
                            _visit(ctx, url, path, marker)
                        first, dt = _visit(ctx, url, path, marker)
                        firsts.append(first)
                        times.append(dt)
                        ctx.close()
                    target = "2" if warm else ""
                    print(f"{f'{label}: /{path} (median of {reps})':<58}{statistics.median(firsts):>9.2f}"
                          f"{statistics.median(times):>9.2f}{target:>9}", flush=True)
            browser.close()


if __name__ == "__main__":
    main()
