"""``python -m tdm1core monitor --db`` on a registry of serial samples (issue 26), and the Monitoring page's
timeline for one patient of 20 timepoints.

The data: N patients (default 10,000) x 6 timepoints, each sample one HER2/EFTUD2 well and three PIK3CA duplex wells,
on 96-well plates of 24 samples (QuantaSoft 1.7 exports), imported into a SQLite database with the sample and events
tables; SYNTHETIC. Timed: the whole process ``monitor --db URL --json`` (every patient), and the timeline figure and
its PDF page for one patient of 20 timepoints (server side). Targets: monitor --db < 5 s; the timeline < 2 s.

    python bench/bench_monitor.py [N]
"""
from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(folder: Path, n_patients: int) -> tuple[str, Path, Path]:
    import numpy as np

    from tdm1core.demo.writer import DuplexWell, quantasoft_csv

    rng = np.random.default_rng(26)
    positions = [f"{r}{c:02d}" for c in range(1, 13) for r in "ABCDEFGH"]
    samples = ["patient_id,sample_id,collection_date,plasma_ml,eluate_ul,template_ul"]
    events = ["patient_id,event_date,event_type,detail"]
    plate: list = []
    plates = []
    for p in range(n_patients):
        pid = f"R{p:05d}"
        events += [f"{pid},2016-01-05,treatment_start,T-DM1", f"{pid},2016-05-01,imaging,{'PD' if p % 3 == 0 else 'SD'}"]
        base = int(rng.integers(0, 60))
        for k in range(6):
            sid = f"{pid}-T{k}"
            samples.append(f"{pid},{sid},2016-{1 + k:02d}-0{1 + (k % 3)},4,50,8")
            mut = max(0, int(base * (0.6 ** k if p % 3 else 1.5 ** k)))
            i = len(plate)
            plate.append(DuplexWell(positions[i], sid, "HER2", "EFTUD2", 1200, 1000, 16000))
            for j, h in enumerate(("E542K", "E545K", "H1047R"), start=1):
                plate.append(DuplexWell(positions[i + j], sid, f"PIK3CA {h} MUT", f"PIK3CA {h} WT",
                                        min(mut, 8000) if h == "E545K" else 0, 700, 16000))
            if len(plate) == 96:
                plates.append(plate)
                plate = []
    if plate:
        plates.append(plate)
    exports = folder / "exports"
    exports.mkdir()
    for n, wells in enumerate(plates):
        (exports / f"plate{n:05d}.csv").write_text(quantasoft_csv(wells))
    (folder / "samples.csv").write_text("\n".join(samples) + "\n")
    (folder / "events.csv").write_text("\n".join(events) + "\n")
    url = f"sqlite:///{folder / 'registry.sqlite'}"
    for cmd in (["import", "ddpcr", str(exports)], ["import", "samples", str(folder / "samples.csv")],
                ["import", "events", str(folder / "events.csv")]):
        subprocess.run([sys.executable, "-m", "tdm1core", *cmd, "--db", url], cwd=ROOT, check=True, capture_output=True)
    return url, folder / "samples.csv", exports


def timeline_time() -> float:
    from tdm1core.plotting.figures import timeline_figure
    from tdm1core.reporting.report import monitoring_report
    from tdm1core.stats.monitoring import HotspotLevel, Timeline, Timepoint

    points = tuple(Timepoint(f"S{k}", f"2016-{1 + k // 2:02d}-{1 + 14 * (k % 2):02d}", 14 * k,
                             {h: HotspotLevel(10.0 + k, 8.0 + k, 12.0 + k, True) for h in ("E542K", "E545K", "H1047R")},
                             1.1, "baseline" if k == 0 else "stable", "rule") for k in range(20))
    tl = Timeline("R1", "copies_per_ml", "monitoring rules v1", "S0", "E545K", points, None, None, None)
    t0 = time.perf_counter()
    timeline_figure(tl, 3, 1.25).to_json()
    monitoring_report(tl, [])
    return time.perf_counter() - t0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    folder = Path(tempfile.mkdtemp(prefix="tdm1monitor-"))
    t0 = time.perf_counter()
    url, _, _ = build(folder, n)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "tdm1core", "monitor", "--db", url, "--json"], cwd=ROOT,
                         capture_output=True, text=True)
    monitor = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    timeline = timeline_time()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; {n:,} patients x 6 timepoints "
          f"(setup: generate and import, {setup:.0f} s)")
    print(f"{'work':<52}{'seconds':>9}  target")
    print(f"{'monitor --db --json, every patient (whole process)':<52}{monitor:>9.2f}  < 5 s ({'met' if monitor < 5 else 'NOT met'})")
    print(f"{'timeline figure + PDF page, 20 timepoints':<52}{timeline:>9.2f}  < 2 s ({'met' if timeline < 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
