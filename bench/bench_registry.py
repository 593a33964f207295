"""A registry-sized cohort (issue 12), on SQLite and PostgreSQL, done as a user would, through the command line.

For each size (default 10,000 and 100,000 patients):
  1. write a patient table and the ddPCR exports (QuantaSoft 1.7 CSV, 4 wells = 8 rows per sample): one single-sample
     export per patient at 10,000 (10,000 files, 40,000 wells), 96-well plates of 24 samples at 100,000
     (4,167 files, 400,000 wells), with the patients' sample IDs;
  2. ``python -m tdm1core import patients TABLE --db URL`` and ``import ddpcr FOLDER --db URL`` (timed, whole processes);
  3. ``python -m tdm1core cohort --db URL --json`` (the stored cohort with the settings in force), twice: the first
     run after an import reads the stored calls (made at import), so neither run parses a file;
  4. the Cohort and Survival pages in a fresh process (Streamlit's AppTest): first view, then a filter change (on
     SQLite only: on a database server the pages serve data only to signed-in users, and AppTest cannot sign in).
Peak memory is the resident set of each whole process (GNU time's %M).
Targets: pages < 2 s on first view and < 0.5 s on a filter change at 10,000; < 5 s at 100,000; < 1.5 GB at 100,000.

    python bench/bench_registry.py                 # 10,000 and 100,000 on SQLite and PostgreSQL
    python bench/bench_registry.py --sizes 2000    # a quick run
    TDM1_BENCH_POSTGRES_URL=postgresql+psycopg://... to use a server of your own (else a throw-away one is started)

Synthetic data (the demo cohort resampled, random counts), not patient data.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))


def write_inputs(folder: Path, n: int, per_file: int) -> Path:
    import numpy as np
    import pandas as pd

    from builders import qs17, sample_wells
    from tdm1core.demo import DEMO_DIR

    rng = np.random.default_rng(n)
    demo = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    rows = demo.sample(n, replace=True, random_state=1).reset_index(drop=True)
    rows["patient_id"] = [f"R{i:06d}" for i in range(n)]
    rows["ctdna_sample_id"] = [f"R{i:06d}-plasma" for i in range(n)]
    table = folder / "patients.csv"
    table.write_bytes(rows.to_csv(index=False).encode())
    exports = folder / "exports"
    exports.mkdir()
    her2 = rng.integers(700, 2600, n)
    mut = np.where(rng.random(n) < 0.25, rng.integers(3, 40, n), 0)
    for start in range(0, n, per_file):
        wells = []
        for k, i in enumerate(range(start, min(n, start + per_file))):
            wells += sample_wells(f"R{i:06d}-plasma", her2=int(her2[i]), eftud2=1000, e545k_mut=int(mut[i]), well0=4 * k)
        (exports / f"plate_{start // per_file:06d}.csv").write_bytes(qs17(wells))
    return table


BENCH_USER = "registry-bench@example.org"


SIGNED_IN: dict[str, str] = {}  # on a shared database: the environment of a command line signed in as BENCH_USER


def run(cmd: list[str], env: dict[str, str] | None = None, shared: bool = False) -> tuple[float, float, str]:
    """(seconds, peak resident MB, stdout) of a whole process: as TDM1_USER=BENCH_USER on SQLite, signed in as
    BENCH_USER (a real login against oidc-provider-mock, issue 28) on a shared database."""
    t0 = time.perf_counter()
    who = SIGNED_IN if shared else {"TDM1_USER": BENCH_USER}
    base = {k: v for k, v in os.environ.items() if not (shared and k == "TDM1_USER")}
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], cwd=ROOT, capture_output=True, text=True,
                       env={**base, **who, **(env or {})})
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    peak_kb = float(p.stderr.strip().splitlines()[-1])
    return seconds, peak_kb / 1024, p.stdout


def probe_pages(url: str) -> None:
    """Run in a fresh process: first view of Cohort and Survival (each in a new session), then filter changes."""
    from streamlit.testing.v1 import AppTest

    os.environ["TDM1_DATABASE_URL"] = url
    out: dict[str, float] = {}

    def timed(at: AppTest) -> float:
        t0 = time.perf_counter()
        at.run()
        if at.exception or at.error:
            raise SystemExit(f"the page failed: {[e.value for e in at.exception] + [e.value for e in at.error]}")
        return time.perf_counter() - t0

    home = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    out["home"] = timed(home)  # the process's first session: Streamlit and the app imported too
    out["home, next session"] = timed(AppTest.from_file(str(ROOT / "app.py"), default_timeout=600))
    for page in ("cohort", "survival"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.run()
        at.switch_page(f"pages/{page}.py")
        out[f"{page} first view"] = timed(at)
        key = "cohort_filter_hr_group" if page == "cohort" else None
        if key is None:
            continue
        times = []
        for values in (["ER and/or PR positive"], ["ER and PR negative"], [], ["ER and/or PR positive"], []):
            at.multiselect(key=key).set_value(values)
            times.append(timed(at))
        out[f"{page} filter change"] = statistics.median(times)
    print(json.dumps(out))


def bench(label: str, url: str, n: int, tmp: Path, rows: list[tuple]) -> None:
    folder = tmp / f"{label}_{n}"
    folder.mkdir()
    per_file = 1 if n <= 10_000 else 24
    table = write_inputs(folder, n, per_file)
    files = len(list((folder / "exports").iterdir()))
    py = [sys.executable, "-m", "tdm1core"]
    shared = not url.startswith("sqlite")
    if shared:
        # a shared database: the command line acts as the signed-in user with the roles of the roles table; the
        # first admin is bootstrapped once (then that admin gives themself the researcher's role)
        run(py + ["db", "roles", "--email", BENCH_USER, "--set", "admin researcher", "--db", url], shared=True)
    t, mb, _ = run(py + ["import", "patients", str(table), "--db", url], shared=shared)
    rows.append((label, n, "import patients (1 table)", t, mb, ""))
    t, mb, _ = run(py + ["import", "ddpcr", str(folder / "exports"), "--db", url], shared=shared)
    rows.append((label, n, f"import ddpcr ({files} files, {4 * n} wells)", t, mb, ""))
    for k in (1, 2):
        t, mb, out = run(py + ["cohort", "--db", url, "--json"], shared=shared)
        obj = json.loads(out)
        assert obj["n"] == n, obj["n"]
        rows.append((label, n, f"cohort --db --json (run {k})", t, mb, "2" if n <= 10_000 else "5"))
    if not url.startswith("sqlite"):
        # the pages serve a database server's data only in signed-in mode (issue 14), which AppTest cannot sign in
        # to; they read the same stored cohort and statistics as on SQLite (measured there)
        rows.append((label, n, "pages: signed-in mode only on a shared database (not measured)", float("nan"), None, ""))
        shutil.rmtree(folder, ignore_errors=True)
        return
    t, mb, out = run([sys.executable, __file__, "--probe", url])
    pages = json.loads(out.strip().splitlines()[-1])
    target_first = "2" if n <= 10_000 else "5"
    for what, seconds in pages.items():
        target = "0.5" if "filter" in what and n <= 10_000 else (target_first if "first" in what else "")
        rows.append((label, n, f"page: {what}", seconds, None, target))
    rows.append((label, n, "pages process peak memory", float("nan"), mb, "1500 MB" if n > 10_000 else ""))
    shutil.rmtree(folder, ignore_errors=True)


def _signed_in(tmp: Path, stop_postgres):
    """Start oidc-provider-mock on loopback and sign the command line in as BENCH_USER (fills SIGNED_IN); returns
    the function that stops it and PostgreSQL."""
    import contextlib

    from cli_signin_env import signed_in_env
    from oidc_provider_mock import run_server_in_thread

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    stack = contextlib.ExitStack()
    server = stack.enter_context(run_server_in_thread(port=0))
    SIGNED_IN.update(signed_in_env(f"http://127.0.0.1:{server.server_address[1]}", tmp / "signed-in", "bench", BENCH_USER))

    def stop() -> None:
        stack.close()
        if stop_postgres:
            stop_postgres()

    return stop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--probe")
    args = ap.parse_args()
    if args.probe:
        probe_pages(args.probe)
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="tdm1registry-"))
    rows: list[tuple] = []
    dbs = [("SQLite", lambda n: f"sqlite:///{tmp / f'registry_{n}.sqlite'}")]
    stop = None
    if not args.no_postgres:
        from bench_store import bench_postgres

        pg, stop = bench_postgres("tdm1pgreg-")
        if pg:
            base = pg

            def pg_url(n: int, base: str = base) -> str:
                import sqlalchemy as sa

                name = f"registry_{n}_{os.getpid()}"
                eng = sa.create_engine(base, isolation_level="AUTOCOMMIT")
                with eng.connect() as conn:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                eng.dispose()
                return str(sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False))

            dbs.append(("PostgreSQL", pg_url))
            stop = _signed_in(tmp, stop)
    try:
        for label, make_url in dbs:
            for n in sizes:
                bench(label, make_url(n), n, tmp, rows)
    finally:
        if stop:
            stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          "whole processes; synthetic data")
    print(f"{'database':<12}{'patients':>9}  {'work':<44}{'seconds':>9}{'ms/patient':>12}{'peak MB':>9}{'target':>9}")
    for label, n, what, seconds, mb, target in rows:
        s = "" if seconds != seconds else f"{seconds:.3f}"
        per = "" if seconds != seconds else f"{1000 * seconds / n:.4f}"
        m = "" if mb is None else f"{mb:.0f}"
        print(f"{label:<12}{n:>9}  {what:<44}{s:>9}{per:>12}{m:>9}{target:>9}")


if __name__ == "__main__":
    main()
