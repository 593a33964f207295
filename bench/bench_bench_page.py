"""The Droplets page's interactive speed on a 96-well plate (issue 25), server side, in-process.

The plate is bench_droplets.py's (96 QuantaSoft amplitude files, ~1.7 M droplets, with its results export, zipped).
Measured, as the page does them (tdm1core.app.lab.review_plate and the figures the page draws):

* change the classification: classify the plate already read (the page keeps it per upload), QC, call, and draw the
  grid, the chosen well's 2D and 1D plots and the plate summary;
* a new upload: the same, plus reading the zip;
* click a well: the well's 2D and 1D plots and its droplet table (the plate's classification is kept in the session);
* the same work with the session's cache warm (a rerun with nothing changed).

Targets: a classification change under 1 s, a well click under 0.5 s (the page shows a spinner for anything longer).
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    from bench_droplets import write_plate

    from tdm1core.app.lab import read_droplet_plate, review_read_plate
    from tdm1core.plotting.droplet_plots import channel_1d_figure, plate_figure, well_2d_figure
    from tdm1core.reading.plate import droplet_table
    from tdm1core.reading.thresholds import DropletThresholds
    from tdm1core.settings import DEFAULT_SETTINGS

    path, droplets, _ = write_plate(Path(tempfile.mkdtemp(prefix="tdm1bench-")))
    files = [(path.read_bytes(), path.name)]

    def draw_well(review, well):
        c = review.classified.well(well)
        well_2d_figure(c, {}).to_json()
        for ch in c.well.channels:
            channel_1d_figure(c, ch, None).to_json()
        droplet_table(c)

    t0 = time.perf_counter()
    plate = read_droplet_plate(files, DEFAULT_SETTINGS)
    reading = time.perf_counter() - t0
    review_read_plate(plate, DEFAULT_SETTINGS, DropletThresholds())  # the first run's imports are the page's warm-up
    rows = []
    for method in ("instrument", "auto", "extreme", "ch1=4000,ch2=4000"):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            review = review_read_plate(plate, DEFAULT_SETTINGS, DropletThresholds.parse(method))
            plate_figure(review.classified, DEFAULT_SETTINGS.min_accepted_droplets, "A01", review.qc).to_json()
            review.summary_frame()
            draw_well(review, "A01")
            times.append(time.perf_counter() - t0)
        clicks = []
        for well in ("B02", "C05", "H12"):
            t0 = time.perf_counter()
            draw_well(review, well)
            clicks.append(time.perf_counter() - t0)
        rows.append((method, statistics.median(times), statistics.median(clicks)))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; plate: 96 wells, "
          f"{droplets:,} droplets")
    print(f"{'threshold':<22}{'change s':>10}{'target':>8}{'click s':>10}{'target':>8}")
    for method, change, click in rows:
        print(f"{method:<22}{change:>10.2f}{'< 1':>8}{click:>10.2f}{'< 0.5':>8}")
    print(f"{'a new upload: reading the zip':<22}{reading:>10.2f}  (once per upload, under the page's spinner)")


if __name__ == "__main__":
    main()
