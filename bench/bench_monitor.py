"""``python -m tdm1core monitor --db`` on a registry of serial samples (issue 26), and the Monitoring page's
timeline for one patient of 20 timepoints.

The data: N patients (default 10,000) x 6 timepoints, each sample one HER2/EFTUD2 well and three PIK3CA duplex wells,
on 96-well plates of 24 samples (QuantaSoft 1.7 exports), imported into a SQLite database with the sample and events
tables; SYNTHETIC. Timed: the whole process ``monitor --db URL --json`` (every patient), and the timeline figure and
its PDF page for one patient of 20 timepoints (server side). Targets: monitor --db < 5 s; the timeline < 2 s.

    python bench/bench_monitor.py [N] [--keep=FOLDER]   (--keep: build the registry there once, reuse it after)
"""
from __future__ import annotations

import platform
import statistics
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


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "tdm1core", *cmd], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return time.perf_counter() - t0


def row(work: str, times: list[float], target: float) -> str:
    med = statistics.median(times)
    spread = f"{min(times):.2f}-{max(times):.2f}" if len(times) > 1 else ""
    return f"{work:<64}{med:>8.2f}  {spread:<11}  < {target:g} s ({'met' if med < target else 'NOT met'})"


def main() -> None:
    """Every measurement three times (the median, and the range: these 2 shared cores vary by about half)."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 10_000
    keep = next((Path(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--keep=")), None)
    folder = keep or Path(tempfile.mkdtemp(prefix="tdm1monitor-"))
    t0 = time.perf_counter()
    if keep is not None and (keep / "registry.sqlite").exists():
        url = f"sqlite:///{keep / 'registry.sqlite'}"
    else:
        folder.mkdir(parents=True, exist_ok=True)
        url, _, _ = build(folder, n)
    setup = time.perf_counter() - t0
    whole = [run(["monitor", "--db", url, "--json"]) for _ in range(3)]
    one = [run(["monitor", "--db", url, "--patient", "R00042", "--json"]) for _ in range(3)]
    cold = [float(subprocess.run([sys.executable, __file__, "--timeline-only"], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout) for _ in range(3)]
    warm = [timeline_time() for _ in range(4)][1:]
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; {n:,} patients x 6 timepoints "
          f"(setup: generate and import, {setup:.0f} s); median of 3, and the range")
    print(f"{'work':<64}{'median':>8}  {'range':<11}  target")
    print(row("monitor --db --json, every patient (whole process)", whole, 5))
    print(row("monitor --db --patient ID --json, one patient (whole process)", one, 5))
    print(row("timeline figure + PDF page, 20 timepoints, first in a process", cold, 2))
    print(row("timeline figure + PDF page, 20 timepoints, next ones", warm, 2))


if __name__ == "__main__":
    if "--timeline-only" in sys.argv:
        print(timeline_time())
    else:
        main()
