"""Load through the proxy (issue 28): real browser sessions against `deploy/stack.py up` (PostgreSQL, 2 app
instances, HAProxy with TLS and affinity, the mock identity provider), at 8, 32 and 64 concurrent sessions.

Why headless browsers, not a WebSocket client: a session is then exactly what a person's tab is (the sign-in
redirects, the affinity cookie, the WebSocket, uploads, widget messages, downloads) with no reimplementation of
Streamlit's protocol to drift from it. The cost: the browsers run on the same 2 cores as the servers, so the
latencies include the load generator's own CPU; they are an upper bound of what the servers give.

Each session signs in through the proxy and then, ITERATIONS times, does its role's work:
  clinician (half): open the Patient page; upload its own export (a new sample each time) and wait for the calls;
                    download the PDF; save the result (a write, counted afterwards);
  researcher:       open the Cohort page; switch sections twice; open the Survival page;
  lab scientist:    open the Droplets page; upload a zipped plate and wait for the calls; reclassify it with
                    automatic thresholds.
Reported: p50/p95 per interaction, errors, lost writes (saves that the database does not hold; target 0) and the
app instances' memory per session (their resident memory with the sessions open, minus before, over sessions).

    python bench/bench_proxy_load.py [--sessions 8 32 64] [--iterations 2]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "deploy"))

from builders import plate_droplet_files, qs17, sample_wells  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--no-first-run"]
TARGET_P95 = 2.0  # seconds, at 32 sessions


def _plate() -> bytes:
    wells = sample_wells("L1", her2=2600, eftud2=1000, e545k_mut=5) + sample_wells("L2", her2=800, eftud2=1000, well0=4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for data, name in plate_droplet_files(wells, "Load", seed=3) + [(qs17(wells), "Load_results.csv")]:
            z.writestr(name, data)
    return buf.getvalue()


async def _text(pg) -> str:
    try:
        return await pg.locator("[data-testid='stApp']").inner_text(timeout=5000)
    except Exception:  # noqa: BLE001 (a page between runs)
        return ""


async def _wait_for(pg, wanted: str, timeout: float = 120) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if wanted in await _text(pg):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{wanted!r} not shown within {timeout:g} s")


class Recorder:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.why: dict[str, list[str]] = defaultdict(list)  # the first few reasons of each interaction's errors

    async def step(self, name: str, coro) -> bool:
        t0 = time.perf_counter()
        try:
            await coro
        except Exception as exc:  # noqa: BLE001 (counted, and the session goes on)
            self.errors[name] += 1
            if len(self.why[name]) < 3:
                self.why[name].append(f"{type(exc).__name__}: {str(exc)[:300]}")
            return False
        self.times[name].append(time.perf_counter() - t0)
        return True


async def _sign_in(pg, url: str, sub: str) -> None:
    await pg.goto(url)
    await _wait_for(pg, "Sign in with your hospital account")
    await pg.get_by_role("button", name="Sign in").click()
    await pg.wait_for_selector("input[name='sub']", timeout=60_000)
    await pg.fill("input[name='sub']", sub)
    await pg.get_by_role("button", name="Authorize").click()
    await pg.wait_for_url(url + "/**", timeout=60_000)
    await _wait_for(pg, "Signed in:")


async def _goto(pg, url: str, wanted: str) -> None:
    await pg.goto(url)
    await _wait_for(pg, wanted)


async def _upload(pg, name: str, data: bytes, wanted: str, mime: str = "text/csv") -> None:
    await pg.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])
    await _wait_for(pg, wanted)


async def _download(pg, button: str) -> None:
    async with pg.expect_download(timeout=120_000) as dl:
        await pg.get_by_role("button", name=button).click()
    await (await dl.value).path()


async def _click_and_wait(pg, label: str, wanted: str) -> None:
    await pg.get_by_text(label, exact=True).first.click()
    await _wait_for(pg, wanted)


async def _press(pg, button: str, wanted: str) -> None:
    await pg.get_by_role("button", name=button, exact=True).click()
    await _wait_for(pg, wanted)


async def _choose(pg, label: str) -> None:
    """Click an option and wait for the page's run to finish (Streamlit's status widget gone, and staying gone)."""
    await pg.get_by_text(label, exact=True).first.click()
    status = pg.locator("[data-testid='stStatusWidget']")
    try:
        await status.wait_for(state="visible", timeout=1500)
    except Exception:  # noqa: BLE001 (a run quicker than the widget's appearance)
        pass
    quiet_since = None
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        if await status.count() == 0:
            quiet_since = quiet_since or time.perf_counter()
            if time.perf_counter() - quiet_since > 0.3:
                return
        else:
            quiet_since = None
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the run after choosing {label!r} did not finish")


async def clinician(pg, url: str, me: int, it: int, rec: Recorder, saved: list[str]) -> None:
    await rec.step("Patient page: open", _goto(pg, url + "/patient-result", "Upload a ddPCR export"))
    name = f"load-{me:03d}-{it}.csv"
    sample = f"LD{me:03d}x{it}"
    if not await rec.step("Patient page: upload an export, calls shown",
                          _upload(pg, name, qs17(sample_wells(sample, her2=900 + me % 97)), "Why:")):
        return
    await rec.step("Patient page: download the PDF", _download(pg, "PDF report"))
    if await rec.step("Patient page: save the result", _press(pg, "Save", f"Stored '{name}'")):
        saved.append(name)


async def researcher(pg, url: str, me: int, it: int, rec: Recorder, saved: list[str]) -> None:
    await rec.step("Cohort page: open", _goto(pg, url + "/cohort-statistics", "patients shown"))
    await rec.step("Cohort page: switch section", _choose(pg, "Best response"))
    await rec.step("Cohort page: switch section", _choose(pg, "Flag performance"))
    await rec.step("Survival page: open", _goto(pg, url + "/survival-analysis", "Kaplan-Meier"))


async def lab(pg, url: str, me: int, it: int, rec: Recorder, saved: list[str], plate: bytes = b"") -> None:
    await rec.step("Droplets page: open", _goto(pg, url + "/droplet-review", "Droplet classification"))
    if not await rec.step("Droplets page: read a plate, calls shown",
                          _upload(pg, "Load.zip", plate, "Calls from these droplets", "application/zip")):
        return
    await rec.step("Droplets page: automatic thresholds",
                   _click_and_wait(pg, "Automatic thresholds", "automatic thresholds (negative-cluster fence"))


ROLES = [("clinician", clinician, ["clinician"]), ("researcher", researcher, ["researcher"]), ("lab", lab, ["clinician"])]


def _role_of(i: int):
    return ROLES[0] if i % 10 < 5 else ROLES[1] if i % 10 < 8 else ROLES[2]


async def run_level(browser, state: dict, n: int, iterations: int, plate: bytes, level: int) -> dict:
    url = state["proxy"]
    rec, saved = Recorder(), []
    contexts = []

    async def one(i: int) -> None:
        role, work, _ = _role_of(i)
        ctx = await browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900},
                                        accept_downloads=True)
        contexts.append(ctx)
        pg = await ctx.new_page()
        pg.set_default_timeout(120_000)
        if not await rec.step("sign in through the proxy", _sign_in(pg, url, f"load{level}-{i}")):
            return
        for it in range(iterations):
            if work is lab:
                await lab(pg, url, i, it, rec, saved, plate)
            else:
                await work(pg, url, i + 1000 * level, it, rec, saved)

    async def close() -> None:
        for ctx in contexts:
            await ctx.close()

    usage = await measured(state, n, asyncio.gather(*(one(i) for i in range(n))), close)
    return {"sessions": n, "times": rec.times, "errors": dict(rec.errors), "saved": saved, "why": rec.why, **usage}


async def measured(state: dict, n: int, sessions, close, client_cpu=None) -> dict:
    """Run the sessions (an awaitable) and say what they took: the wall time, the CPU seconds by kind of process (and
    the load client's own, if ``client_cpu`` tells it), the instances' memory per session (with the sessions open,
    before ``close``)."""
    before, cpu0, own0 = _instances_rss(state), _cpu_seconds(state), client_cpu() if client_cpu else 0.0
    t0 = time.perf_counter()
    await sessions
    wall = time.perf_counter() - t0
    during, cpu1 = _instances_rss(state), _cpu_seconds(state)
    await close()
    cpu = {k: cpu1.get(k, 0.0) - cpu0.get(k, 0.0) for k in cpu1}
    if client_cpu:
        cpu["load client"] = client_cpu() - own0
    return {"wall": wall, "cpu": cpu, "rss_per_session_mb": (during - before) / n / 2**20 if n else 0.0}


async def run_levels(folder: Path, levels: list[int], level, after=None) -> None:
    """Bring the loopback stack up (2 instances), register the load users, run ``level(state, n, plate)`` at each
    number of sessions, print the table (and ``after()``'s lines), then bring the stack down and print what the
    servers logged (the first traceback of each instance, if any) and how often the proxy marked one down."""
    import stack

    t0 = time.perf_counter()
    state = stack.up(folder, instances=2, port=stack.free_port())
    print(f"stack up in {time.perf_counter() - t0:.0f} s: {state['proxy']} -> {', '.join(state['instances'].values())}")
    try:
        _register(state, levels)
        plate = _plate()
        results, lost = [], {}
        for n in levels:
            r = await level(state, n, plate)
            lost[n] = _lost(state, r["saved"])
            results.append(r)
            print(f"  {n} sessions done in {r['wall']:.0f} s", flush=True)
            for name, reasons in sorted(r.get("why", {}).items()):
                print(f"    errors in {name}: {reasons[:2]}")
        report(results, lost)
        if after:
            after()
    finally:
        proxy_log = folder / "proxy.log"
        downs = proxy_log.read_text(errors="replace").count(" is DOWN") if proxy_log.exists() else 0
        print(f"proxy: an instance was marked down {downs} time(s) by its health checks")
        stack.down(folder)
        for log in sorted(folder.glob("app*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"{log.name}: {text.count('Traceback')} traceback(s); the first:\n"
                      + text[text.index("Traceback"):][:3000])


def _cpu_seconds(state: dict) -> dict[str, float]:
    """Cumulative CPU seconds by kind of process on this machine: the app instances, PostgreSQL, the proxy, and the
    browsers (the load generator), to say who used the cores."""
    app_groups = {str(pid) for name, pid in state["pids"].items() if name.startswith("app")}
    out = subprocess.run(["ps", "-eo", "pgid=,comm=,cputimes="], capture_output=True, text=True).stdout
    totals: dict[str, float] = defaultdict(float)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        pgid, comm, secs = parts[0], " ".join(parts[1:-1]), float(parts[-1])
        kind = ("app instances" if pgid in app_groups else "PostgreSQL" if comm.startswith("postgres")
                else "proxy" if comm.startswith("haproxy") else "browsers" if "chrom" in comm or "headless" in comm
                else None)
        if kind:
            totals[kind] += secs
    return totals


def _instances_rss(state: dict) -> int:
    """Resident memory of the app instances' process groups (their Python processes), bytes."""
    total = 0
    for name, pid in state["pids"].items():
        if not name.startswith("app"):
            continue
        out = subprocess.run(["ps", "-o", "rss=", "-g", str(pid)], capture_output=True, text=True).stdout
        total += sum(int(x) for x in out.split()) * 1024
    return total


def _register(state: dict, levels: list[int]) -> None:
    for level in levels:
        for i in range(level):
            role, _, roles = _role_of(i)
            claims = {"email": f"load{level}-{i}@hospital.example", "name": f"Load {role} {i}", "roles": roles}
            req = urllib.request.Request(f"{state['identity_provider']}/users/load{level}-{i}", data=json.dumps(claims).encode(),
                                         method="PUT", headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10)


def _lost(state: dict, saved: list[str]) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(state["database_url"])
    with engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT name FROM files WHERE name LIKE 'load-%'")).scalars())
    engine.dispose()
    return sum(1 for n in saved if n not in names)


def report(results: list[dict], lost: dict[int, int]) -> None:
    print(f"{'sessions':>8}  {'interaction':<46}{'n':>5}{'p50 s':>8}{'p95 s':>8}{'errors':>8}")
    for r in results:
        for name in sorted(set(r["times"]) | set(r["errors"])):
            xs = sorted(r["times"].get(name, []))
            p50 = statistics.median(xs) if xs else float("nan")
            p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] if xs else float("nan")
            flag = "" if r["sessions"] != 32 or p95 < TARGET_P95 else "  (over the 2 s target)"
            print(f"{r['sessions']:>8}  {name:<46}{len(xs):>5}{p50:>8.2f}{p95:>8.2f}{r['errors'].get(name, 0):>8}{flag}")
        print(f"{r['sessions']:>8}  {'lost writes (saves not in the database)':<46}{len(r['saved']):>5}"
              f"{'':>16}{lost[r['sessions']]:>8}   wall {r['wall']:.0f} s; instances' memory per session "
              f"{r['rss_per_session_mb']:.1f} MB")
        used = sum(r["cpu"].values()) or 1.0
        print(f"{'':>8}  CPU used in {r['wall']:.0f} s on 2 cores: " + ", ".join(
            f"{k} {v:.0f} s ({100 * v / used:.0f} %)" for k, v in sorted(r["cpu"].items(), key=lambda kv: -kv[1])))


async def main_async(levels: list[int], iterations: int, folder: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        await run_levels(folder, levels, lambda state, n, plate: run_level(browser, state, n, iterations, plate, n))
        await browser.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--iterations", type=int, default=2)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tdm1load-"))
    print(f"machine: 2 app instances behind HAProxy on this machine; {args.iterations} rounds per session; "
          f"browsers and servers share the cores")
    asyncio.run(main_async(args.sessions, args.iterations, folder))


if __name__ == "__main__":
    main()
