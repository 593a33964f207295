"""Browser-visible first render: `streamlit run app.py` on 127.0.0.1 and Debian's Chromium (Playwright), timing from
navigation to the page's key content being on screen.

Three cases per page (median of REPS runs each):
- after server start: the first visit of each page after the server starts (imports included; reported, no target);
- new browser: a browser profile that has never opened the app (nothing cached: Streamlit's ~2 MB of JavaScript is
  downloaded and compiled; reported, no target: it is Streamlit's frontend, not this app);
- new session: a new tab of a browser that has opened this page before (Streamlit's bundles, and the chunks each
  kind of element loads, are served content-hashed and "immutable", so a real browser keeps them), i.e. a new
  Streamlit session of a returning user: target < 2 s.

"new session, no omnibox popup" repeats the new-session case in a Chromium started with
--disable-features=WebUIOmniboxPopup (see NO_OMNIBOX_POPUP): what the page itself costs, without the browser's own
work for a new tab competing for the two cores.

A last case, "Streamlit alone", serves a minimal Streamlit app (a title, a section choice, a 30-row table and a line
of text; no database, no sidebar) the same way: the floor that Streamlit's own frontend sets on this machine, below
which no page of any Streamlit app comes.

Columns: "title" is the time to the page's first element (Streamlit's frontend has started and the session's
first messages have arrived), "server" the time from the browser's first message on the session's websocket to the
first run's "script finished" message arriving (the server's part: the page scripts, the database and sending),
"seconds" the time to the key content (the target).

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
# Chromium 156 builds the omnibox's suggestion popup (chrome://omnibox-popup.top-chrome, a WebUI page in a renderer of
# its own) for every new tab, headless too: ~1.7 s of CPU during the page's first render, on the same 2 cores
# (seen in a Chromium trace). A person's browser builds it once per window, on a machine with cores to spare.
NO_OMNIBOX_POPUP = "--disable-features=WebUIOmniboxPopup"
PAGES = [("cohort-statistics", "Age, years, median (range)"), ("survival-analysis", "Log-rank test"),
         ("patient-result", "Upload an export"), ("", "Where to go")]


FLOOR_APP = """import pandas as pd
import streamlit as st
st.title("Streamlit alone")
st.radio("Show", ["Table", "Other"], horizontal=True, label_visibility="collapsed")
st.table(pd.DataFrame({"Characteristic": [f"row {i}" for i in range(30)], "Value": ["12 (34%)"] * 30}))
st.write("Where to go")
"""


def _server_part(pg) -> list[float]:
    """Collects, once the page's websocket opens, the seconds from the browser's first message on it to the first
    run's ``script_finished`` message (decoded with Streamlit's own protobuf classes)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    out: list[float] = []
    start: list[float] = []

    def on_ws(ws) -> None:
        def sent(_payload) -> None:
            if not start:
                start.append(time.perf_counter())

        def received(payload) -> None:
            if out or not start or not isinstance(payload, bytes):
                return
            try:
                msg = ForwardMsg.FromString(payload)
            except Exception:
                return
            if msg.WhichOneof("type") == "script_finished":
                out.append(time.perf_counter() - start[0])

        ws.on("framesent", sent)
        ws.on("framereceived", received)

    pg.on("websocket", on_ws)
    return out


def _visit(ctx, url: str, path: str, marker: str) -> tuple[float, float, float]:
    """Seconds from navigation to the page's first element (its title: Streamlit's frontend has started and the
    session's first messages have arrived), the server's part (see the module's docstring) and seconds to the key
    content."""
    pg = ctx.new_page()
    server = _server_part(pg)
    t0 = time.perf_counter()
    pg.goto(f"{url}/{path}", wait_until="commit")
    pg.locator("h1").first.wait_for(timeout=60_000)
    first = time.perf_counter() - t0
    pg.get_by_text(marker).first.wait_for(timeout=60_000)
    dt = time.perf_counter() - t0
    deadline = time.time() + 10
    while not server and time.time() < deadline:
        pg.wait_for_timeout(50)  # Playwright delivers websocket events only inside its own calls
    pg.close()
    return first, (server[0] if server else float("nan")), dt


def _row(label: str, visits: list[tuple[float, float, float]], target: str) -> None:
    first, server, dt = (statistics.median(v[i] for v in visits) for i in range(3))
    print(f"{label:<64}{first:>9.2f}{server:>9.2f}{dt:>9.2f}{target:>9}", flush=True)


def _repeat(browser, url: str, path: str, marker: str, reps: int, warm: bool) -> list[tuple[float, float, float]]:
    """``reps`` visits, each in a new browser context; ``warm``: the context has opened the page once before (its
    cache holds the page's bundles), so the timed visit is a new session of a returning browser."""
    visits = []
    for _ in range(reps):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        if warm:
            _visit(ctx, url, path, marker)
        visits.append(_visit(ctx, url, path, marker))
        ctx.close()
    return visits


def main() -> None:
    from playwright.sync_api import sync_playwright

    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from test_browser import streamlit_server

    print(f"{'work':<64}{'title':>9}{'server':>9}{'seconds':>9}{'target':>9}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        lean = p.chromium.launch(executable_path="/usr/bin/chromium", args=[*ARGS, NO_OMNIBOX_POPUP])
        with streamlit_server(Path(tempfile.mkdtemp()) / "bench.sqlite") as url:
            for path, marker in PAGES:
                _row(f"after server start: /{path}", _repeat(browser, url, path, marker, 1, warm=False), "")
            for label, which, warm in (("new browser", browser, False), ("new session", browser, True),
                                       ("new session, no omnibox popup", lean, True)):
                for path, marker in PAGES:
                    _row(f"{label}: /{path} (median of {reps})", _repeat(which, url, path, marker, reps, warm),
                         "2" if warm else "")
        floor = Path(tempfile.mkdtemp())
        (floor / "app.py").write_text(FLOOR_APP)
        with streamlit_server(floor / "unused.sqlite", app=floor / "app.py",
                              args=("--server.fileWatcherType", "none")) as url:
            _row(f"Streamlit alone, new session (median of {reps})", _repeat(browser, url, "", "Where to go", reps, True), "")
        lean.close()
        browser.close()


if __name__ == "__main__":
    main()
