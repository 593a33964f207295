"""Regenerate the SYNTHETIC serial-monitoring demo (``python -m tdm1core.demo.make_series``): a sample table, an
events table and one ddPCR export (QuantaSoft layout) for four made-up patients on T-DM1, each showing one course
of the monitoring rules: a molecular progression weeks before imaging (M01), a clearance (M02), a response that
holds (M03) and nothing trackable (M04). Not patient data: every count is chosen here, deterministically.
"""
from __future__ import annotations

from pathlib import Path

from tdm1core.demo.writer import DuplexWell, quantasoft_csv

DATA_DIR = Path(__file__).with_name("data")
SAMPLES_NAME, EVENTS_NAME, EXPORT_NAME = "demo_series_samples.csv", "demo_series_events.csv", "demo_series_ddpcr.csv"
COMMENT = "SYNTHETIC serial-monitoring demo; not patient data"

# patient: (start date, [(days after start, E545K mutant droplets, HER2 positives)], [(days, event, detail)])
COURSES = {
    "M01": ("2016-03-01", [(-3, 30, 1150), (28, 12, 1150), (56, 6, 1140), (84, 20, 1160), (112, 60, 1170)],
            [(0, "treatment_start", "T-DM1"), (90, "imaging", "SD"), (150, "imaging", "PD"), (152, "treatment_end", "T-DM1")]),
    "M02": ("2016-05-10", [(-1, 25, 1100), (42, 4, 1100), (84, 0, 1090), (126, 0, 1100)],
            [(0, "treatment_start", "T-DM1"), (90, "imaging", "PR"), (180, "imaging", "SD")]),
    "M03": ("2016-07-04", [(-2, 40, 1200), (35, 14, 1210), (70, 12, 1190), (105, 16, 1200)],
            [(0, "treatment_start", "T-DM1"), (84, "imaging", "PR"), (168, "imaging", "SD")]),
    "M04": ("2016-09-12", [(-5, 0, 1300), (30, 0, 1310), (60, 0, 1290)],
            [(0, "treatment_start", "T-DM1"), (80, "imaging", "SD")]),
}


def _date(start: str, days: int) -> str:
    import datetime as dt

    return (dt.date.fromisoformat(start) + dt.timedelta(days=days)).isoformat()


def build() -> tuple[str, str, str]:
    """(samples CSV, events CSV, export CSV) as text."""
    positions = [f"{r}{c:02d}" for c in range(1, 13) for r in "ABCDEFGH"]
    wells: list[DuplexWell] = []
    samples = ["patient_id,sample_id,collection_date,plasma_ml,eluate_ul,template_ul"]
    events = ["patient_id,event_date,event_type,detail"]
    for patient, (start, draws, evs) in COURSES.items():
        for k, (day, mutant, her2) in enumerate(draws, start=1):
            sample = f"{patient}-T{k}"
            samples.append(f"{patient},{sample},{_date(start, day)},4,50,8")
            i = len(wells)
            wells.append(DuplexWell(positions[i], sample, "HER2", "EFTUD2", her2, 1000, 16000))
            for j, hotspot in enumerate(("E542K", "E545K", "H1047R"), start=1):
                wells.append(DuplexWell(positions[i + j], sample, f"PIK3CA {hotspot} MUT", f"PIK3CA {hotspot} WT",
                                        mutant if hotspot == "E545K" else 0, 700, 16000))
        events += [f"{patient},{_date(start, d)},{kind},{detail}" for d, kind, detail in evs]
    return "\n".join(samples) + "\n", "\n".join(events) + "\n", quantasoft_csv(wells)


def main() -> None:
    samples, events, export = build()
    (DATA_DIR / SAMPLES_NAME).write_text(samples)
    (DATA_DIR / EVENTS_NAME).write_text(events)
    (DATA_DIR / EXPORT_NAME).write_text(export)


if __name__ == "__main__":
    main()
