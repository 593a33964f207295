"""PDF generation times. Targets: patient report < 1.5 s; 34-patient cohort report < 4 s."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tdm1core.calling.calls import call_export  # noqa: E402
from tdm1core.app.cli import _demo_cohort  # noqa: E402
from tdm1core.reading.exports import read_export  # noqa: E402
from tdm1core.demo import demo_export_path  # noqa: E402
from tdm1core.reporting.report import Provenance, cohort_report, patient_report  # noqa: E402
from tdm1core.clinical.risk import PatientResult  # noqa: E402
from tdm1core.settings import Settings  # noqa: E402
from tdm1core.stats import analyse_cohort  # noqa: E402


def main() -> None:
    export = read_export(demo_export_path())
    calls = call_export(export)
    result = PatientResult.from_calls(next(c for c in calls if c.sample == "P06"), "pos", "neg", "X-1")
    cohort, _ = _demo_cohort(Settings())

    def patient() -> None:
        patient_report(result, Provenance(export.name, export.sha256), cohort.ratio_points())

    def whole_cohort() -> None:
        cohort_report(cohort, analyse_cohort(cohort, calls=calls), Provenance("demo", None))

    print(f"{'report':<36}{'first s':>10}{'median s':>10}{'target s':>10}")
    for name, fn, target in (("patient (1 page)", patient, 1.5), ("cohort, 34 patients (with stats)", whole_cohort, 4)):
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        print(f"{name:<36}{first:>10.3f}{statistics.median(times):>10.3f}{target:>10}")


if __name__ == "__main__":
    main()
