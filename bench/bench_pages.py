"""Page render times with Streamlit's AppTest.

Targets: first render of each page on the demo < 2 s; a filter change on a 10,000-patient cohort < 0.5 s.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

import pandas as pd  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from tdm1core.demo import DEMO_DIR, demo_export_path  # noqa: E402

logging.getLogger("streamlit").setLevel(logging.ERROR)
PAGES = ["pages/home.py", "pages/patient.py", "pages/cohort.py", "pages/survival.py", "pages/settings.py"]


def big_table(n: int) -> bytes:
    demo = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    rows = demo.sample(n, replace=True, random_state=1).reset_index(drop=True)
    rows["patient_id"] = [f"S{i:06d}" for i in range(n)]
    rows.loc[16:, "ctdna_sample_id"] = ""
    rows.loc[:15, "ctdna_sample_id"] = [f"P{i:02d}" for i in range(1, 17)]
    return rows.to_csv(index=False).encode()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    import os
    import tempfile

    from tdm1core.settings import DEFAULT_SETTINGS
    from tdm1core.storage.store import Store
    from tdm1core.app.workflows import import_exports, import_patients

    tmp = Path(tempfile.mkdtemp())
    os.environ.pop("TDM1_DATABASE_URL", None)
    os.environ["TDM1_DB_PATH"] = str(tmp / "demo.sqlite")
    print(f"{'what':<52}{'seconds':>10}{'target':>8}")
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page(page)
        print(f"{'first render on the demo: ' + page:<52}{timed(at.run):>10.3f}{2:>8}")
    os.environ["TDM1_DB_PATH"] = str(tmp / "big.sqlite")
    big = Store(f"sqlite:///{tmp / 'big.sqlite'}")
    import_patients(big, big_table(10_000), "big.csv", DEFAULT_SETTINGS)
    import_exports(big, [(demo_export_path().read_bytes(), "demo.csv")], DEFAULT_SETTINGS)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    print(f"{'home, 10,000 patients (loads and validates them)':<52}{timed(at.run):>10.3f}{'':>8}")
    at.switch_page("pages/cohort.py")
    print(f"{'cohort page, 10,000 patients, first render':<52}{timed(at.run):>10.3f}{'':>8}")
    if at.exception or at.error:
        raise SystemExit(f"the page failed: {[e.value for e in at.exception] + [e.value for e in at.error]}")
    times = []
    for values in (["ER and/or PR positive"], ["ER and PR negative"], [], ["ER and/or PR positive"], []):
        at.multiselect(key="cohort_filter_hr_group").set_value(values)
        times.append(timed(at.run))
    print(f"{'cohort page, 10,000 patients, filter change (median)':<52}{statistics.median(times):>10.3f}{0.5:>8}")


if __name__ == "__main__":
    main()
