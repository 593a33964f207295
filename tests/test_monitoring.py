"""Issue 26: serial monitoring. Every rule branch of monitoring rules v1 with droplet counts built in code, the
tables' validation, pooling over plates and replicate wells, the unit conversion, the file order, the command line."""
from __future__ import annotations

import gc
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from builders import qs17, sample_wells
from tdm1core.demo.writer import DuplexWell
from tdm1core.errors import CohortFormatError, InputError
from tdm1core.reading.exports import read_export
from tdm1core.settings import Settings
from tdm1core.stats.monitoring import calls_by_sample, timelines
from tdm1core.stats.serial_tables import read_events, read_samples

V = 0.85e-3  # µL per droplet
N = 15000


def copies(positives: int, n: int = N) -> float:
    """Mutant copies per 20 µL well from droplets, by Poisson, computed here (not by the code under test)."""
    return 20 * -math.log(1 - positives / n) / V


def _export(counts: dict[str, int], name: str = "run.csv", extra: list[DuplexWell] | None = None, hotspot: str = "E545K"):
    wells: list[DuplexWell] = []
    for i, (sample, mut) in enumerate(counts.items()):
        block = sample_wells(sample, well0=4 * i)
        block = [DuplexWell(w.well, w.sample, w.ch1_target, w.ch2_target, mut if hotspot in w.ch1_target else w.ch1_positives,
                            w.ch2_positives, w.accepted) for w in block]
        wells += block
    return read_export(qs17(wells + (extra or [])), name)


def _samples(dates: dict[str, str], patient: str = "P1", volumes: str = "") -> bytes:
    head = "patient_id,sample_id,collection_date" + (",plasma_ml,eluate_ul,template_ul" if volumes else "")
    return (head + "\n" + "".join(f"{patient},{s},{d}{volumes}\n" for s, d in dates.items())).encode()


EVENTS = b"patient_id,event_date,event_type,detail\nP1,2016-01-02,treatment_start,T-DM1\n"
DATES = {"S0": "2016-01-01", "S1": "2016-02-01", "S2": "2016-03-01", "S3": "2016-04-01"}


def _run(counts, dates=DATES, events=EVENTS, exports=None, volumes=""):
    exports = exports or [_export(counts)]
    rows = read_samples(_samples(dates, volumes=volumes))
    return timelines(rows, read_events(events) if events else (), calls_by_sample(exports, Settings()), Settings())[0]


def _categories(tl):
    return [t.category for t in tl.timepoints]


def test_response_cleared_and_progression_after_the_nadir_with_the_lead_time():
    tl = _run({"S0": 40, "S1": 15, "S2": 0, "S3": 60},
              events=EVENTS + b"P1,2016-05-01,imaging,PD\n")
    assert _categories(tl) == ["baseline", "response", "cleared", "progression"]
    assert tl.tracking_hotspot == "E545K" and tl.baseline_sample == "S0"
    assert tl.timepoints[1].hotspots["E545K"].mutant == pytest.approx(copies(15), rel=1e-9)
    assert tl.first_molecular_progression == "2016-04-01" and tl.first_radiological_progression == "2016-05-01"
    assert tl.lead_time_days == 30


def test_imaging_first_gives_a_negative_lead_time():
    tl = _run({"S0": 40, "S1": 60, "S2": 200, "S3": 300}, events=EVENTS + b"P1,2016-01-20,imaging,PD\n")
    assert tl.first_molecular_progression == "2016-03-01"  # 200 >= 2 x 40 with CIs apart; 60 is not
    assert tl.lead_time_days == (19 - 60)


def test_twice_the_nadir_with_overlapping_cis_is_stable_not_progression():
    # exactly 2 x the nadir in droplets (10 -> 20): C >= 2 x nadir holds, but the CIs of 10 and 20 droplets overlap
    tl = _run({"S0": 10, "S1": 20, "S2": 10, "S3": 20})
    assert _categories(tl)[1] == "stable" and "neither progression nor response" in tl.timepoints[1].rule
    c, nadir = tl.timepoints[1].hotspots["E545K"], tl.timepoints[0].hotspots["E545K"]
    assert c.mutant >= 2 * nadir.mutant and c.low <= nadir.high


def test_a_new_mutation_is_progression_and_named():
    wells = sample_wells("S1", well0=4)
    extra_counts = {"S0": 40, "S1": 40}
    exp = _export(extra_counts)
    # S1 also carries H1047R, not detected at baseline
    wells2 = []
    for i, (sample, mut) in enumerate(extra_counts.items()):
        for w in sample_wells(sample, well0=4 * i):
            m = mut if "E545K" in w.ch1_target else (30 if sample == "S1" and "H1047R" in w.ch1_target else 0)
            wells2.append(DuplexWell(w.well, w.sample, w.ch1_target, w.ch2_target, m, w.ch2_positives, w.accepted))
    exp = read_export(qs17(wells2), "run.csv")
    del wells
    tl = _run({}, dates={"S0": "2016-01-01", "S1": "2016-02-01"}, exports=[exp])
    assert _categories(tl) == ["baseline", "progression (new mutation)"] and "H1047R" in tl.timepoints[1].rule


def test_nothing_detected_at_baseline_is_not_trackable():
    tl = _run({"S0": 0, "S1": 0, "S2": 1, "S3": 0})
    assert tl.tracking_hotspot is None and set(_categories(tl)[1:]) == {"not trackable"}


def test_a_sample_that_is_not_evaluable_in_the_middle_is_said_so_and_does_not_move_the_nadir():
    counts = {"S0": 40, "S1": 20, "S2": 5, "S3": 45}
    wells = []
    for i, (sample, mut) in enumerate(counts.items()):
        for w in sample_wells(sample, well0=4 * i):
            acc = 900 if sample == "S2" else w.accepted  # S2's wells: too few droplets, so not evaluable
            m = mut if "E545K" in w.ch1_target else 0
            wells.append(DuplexWell(w.well, w.sample, w.ch1_target, w.ch2_target, m, min(w.ch2_positives, acc // 2), acc))
    tl = _run({}, exports=[read_export(qs17(wells), "run.csv")])
    assert _categories(tl)[2] == "not evaluable"
    # the nadir stays S1 (20 droplets), so S3's 45 is not 2 x nadir with CIs apart... compare with the rule directly
    s1, s3 = tl.timepoints[1].hotspots["E545K"], tl.timepoints[3].hotspots["E545K"]
    expected = "progression" if (s3.mutant >= 2 * s1.mutant and s3.low > s1.high) else "stable"
    assert _categories(tl)[3] == expected


def test_replicate_wells_and_plates_are_pooled_by_droplets():
    one = _export({"S0": 40, "S1": 10}, "plate1.csv")
    two = _export({"S1": 12}, "plate2.csv")
    tl = _run({}, dates={"S0": "2016-01-01", "S1": "2016-02-01"}, exports=[one, two])
    pooled = tl.timepoints[1].hotspots["E545K"]
    assert pooled.mutant == pytest.approx(20 * -math.log(1 - 22 / (2 * N)) / V, rel=1e-9)


def test_copies_per_ml_with_the_three_volumes_and_per_well_without():
    per_well = _run({"S0": 40, "S1": 15, "S2": 0, "S3": 60})
    per_ml = _run({"S0": 40, "S1": 15, "S2": 0, "S3": 60}, volumes=",4,50,8")
    assert per_well.unit == "copies_per_20ul_well" and per_ml.unit == "copies_per_ml"
    factor = 50 / 8 / 4
    assert per_ml.timepoints[0].hotspots["E545K"].mutant == pytest.approx(copies(40) * factor, rel=1e-9)
    assert per_ml.timepoints[0].hotspots["E545K"].high == pytest.approx(per_well.timepoints[0].hotspots["E545K"].high * factor)
    assert _categories(per_ml) == _categories(per_well)


def test_the_baseline_is_the_latest_sample_before_the_first_t_dm1_start_or_the_first_sample():
    tl = _run({"S0": 40, "S1": 30, "S2": 10, "S3": 5},
              events=b"patient_id,event_date,event_type,detail\nP1,2016-02-15,treatment_start,T-DM1\n")
    assert tl.baseline_sample == "S1" and _categories(tl)[0] == "before baseline"
    assert _run({"S0": 40, "S1": 30, "S2": 10, "S3": 5}, events=None).baseline_sample == "S0"


@hsettings(max_examples=15, deadline=None)
@given(st.permutations(["a", "b", "c"]))
def test_reordering_the_input_files_changes_nothing(order):
    plates = {"a": _export({"S0": 40, "S1": 10}, "a.csv"), "b": _export({"S2": 0}, "b.csv"), "c": _export({"S3": 60}, "c.csv")}
    rows = read_samples(_samples(DATES))
    first = timelines(rows, read_events(EVENTS), calls_by_sample([plates[k] for k in "abc"], Settings()), Settings())
    again = timelines(rows[::-1], read_events(EVENTS), calls_by_sample([plates[k] for k in order], Settings()), Settings())
    assert [t.to_dict() for t in first] == [t.to_dict() for t in again]


def test_the_tables_are_refused_with_every_problem_by_row_and_column():
    bad = b"patient_id,sample_id,collection_date,plasma_ml\nP1,S0,01/02/2016,4\nP1,S0,2016-02-30,\n,S2,2016-03-01,\n"
    with pytest.raises(CohortFormatError) as err:
        read_samples(bad)
    text = str(err.value)
    assert "ambiguous" in text and "2016-02-30" in text and "listed twice" in text and "patient id is missing" in text
    assert "give all three volumes" in text
    with pytest.raises(CohortFormatError, match="no column 'collection_date'"):
        read_samples(b"patient_id,sample_id\nP1,S0\n")
    with pytest.raises(CohortFormatError) as err:
        read_events(b"patient_id,event_date,event_type,detail\nP1,2016-01-01,scan,PD\nP1,2016-01-02,imaging,progressed\n")
    assert "'scan' is not one of" in str(err.value) and "not a RECIST 1.1 response" in str(err.value)
    assert read_samples(b"patient_id,sample_id,collection_date\nP1,S0,01/02/2016\n", settings=Settings(date_order="DMY"))[0].collection_date == "2016-02-01"


def test_the_monitor_command_prints_the_contract(tmp_path):
    from tdm1core.demo import demo_series_paths

    samples, export, events = demo_series_paths()
    out = subprocess.run([sys.executable, "-m", "tdm1core", "monitor", "--samples", str(samples), "--ddpcr", str(export),
                          "--events", str(events), "--patient", "M01", "--json"], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], timeout=120)
    assert out.returncode == 0, out.stderr
    (p,) = json.loads(out.stdout)
    assert set(p) >= {"patient_id", "unit", "rules", "baseline_sample", "tracking_hotspot", "timepoints",
                      "first_molecular_progression", "first_radiological_progression", "lead_time_days"}
    assert p["rules"] == "monitoring rules v1" and p["unit"] == "copies_per_ml"
    t = p["timepoints"][0]
    assert set(t) >= {"sample_id", "collection_date", "days_from_baseline", "hotspots", "her2_ratio", "category", "rule"}
    assert set(t["hotspots"]["E545K"]) >= {"mutant", "low", "high", "detected"}
    assert p["lead_time_days"] == 66  # the SYNTHETIC course: molecular progression 66 days before imaging PD
    missing = subprocess.run([sys.executable, "-m", "tdm1core", "monitor", "--samples", str(tmp_path / "none.csv"),
                              "--ddpcr", str(export)], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert missing.returncode == 2 and "cannot read the file" in missing.stderr


def test_a_sample_without_a_result_is_listed_not_guessed():
    tl = _run({"S0": 40, "S1": 15}, dates={"S0": "2016-01-01", "S1": "2016-02-01", "S9": "2016-03-01"})
    assert [t.sample_id for t in tl.timepoints] == ["S0", "S1"] and any("S9" in w for w in tl.warnings)
    with pytest.raises(InputError, match="no sample"):
        timelines(read_samples(_samples(DATES)), (), {}, Settings(), patient="P9")


def test_the_cohort_lead_times_and_the_landmark_groups():
    from tdm1core.demo import demo_series_paths
    from tdm1core.app.monitoring import monitor_files, monitoring_summary

    s, e, ev = demo_series_paths()
    found = monitor_files((s.read_bytes(), s.name), [(e.read_bytes(), e.name)], (ev.read_bytes(), ev.name), Settings())
    at90 = monitoring_summary(found, 90, Settings())
    assert at90.lead_times == (66,) and at90.molecular_first == 1 and at90.median_lead_time == 66
    # by day 90 M02 has cleared (day 85); M01 and M03 have not; M04 has nothing trackable (left out)
    assert dict(at90.groups) == {"M01": "not cleared", "M02": "cleared", "M03": "not cleared"}
    # the landmark rule: only those progression-free beyond day 90 enter (M01's PD is at day 150: it enters)
    assert sum(g.n for g in at90.km.groups) == 3 and at90.km.landmark == 90
    with pytest.raises(InputError, match="landmark"):
        monitoring_summary(found, 0, Settings())


def test_stored_tables_and_exports_give_the_same_timelines_as_the_files(tmp_path):
    from tdm1core.app.monitoring import import_serial_tables, monitor_files, monitor_stored
    from tdm1core.app.workflows import import_exports, open_store
    from tdm1core.demo import demo_series_paths

    s, e, ev = demo_series_paths()
    f = lambda p: (p.read_bytes(), p.name)  # noqa: E731
    store = open_store(f"sqlite:///{tmp_path / 'm.sqlite'}", seed=False)
    import_exports(store, [f(e)], Settings())
    assert import_serial_tables(store, f(s), f(ev), Settings()) == (16, 12)
    from_files = monitor_files(f(s), [f(e)], f(ev), Settings())
    stored = monitor_stored(store, Settings())
    assert [t.to_dict() for t in stored] == [t.to_dict() for t in from_files]
    # a refused table stores nothing and loses nothing
    with pytest.raises(CohortFormatError):
        import_serial_tables(store, (b"patient_id,sample_id,collection_date\nM01,M01-T1,not a date\n", "bad.csv"), None,
                             Settings())
    assert [t.to_dict() for t in monitor_stored(store, Settings())] == [t.to_dict() for t in from_files]
    with pytest.raises(InputError, match="no serial-monitoring samples"):
        monitor_stored(open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}", seed=False), Settings())


def test_a_stored_sample_on_two_plates_is_pooled_as_for_files(tmp_path):
    from tdm1core.app.monitoring import import_serial_tables, monitor_stored
    from tdm1core.app.workflows import import_exports, open_store

    one, two = qs17(_wells({"S0": 40, "S1": 10})), qs17(_wells({"S1": 12}))
    store = open_store(f"sqlite:///{tmp_path / 'two.sqlite'}", seed=False)
    import_exports(store, [(one, "plate1.csv"), (two, "plate2.csv")], Settings())
    import_serial_tables(store, (_samples({"S0": "2016-01-01", "S1": "2016-02-01"}), "s.csv"), None, Settings())
    (tl,) = monitor_stored(store, Settings())
    files = _run({}, dates={"S0": "2016-01-01", "S1": "2016-02-01"},
                 exports=[read_export(one, "plate1.csv"), read_export(two, "plate2.csv")], events=None)
    assert tl.to_dict() == files.to_dict()
    assert tl.timepoints[1].hotspots["E545K"].mutant == pytest.approx(20 * -math.log(1 - 22 / (2 * N)) / V, rel=1e-9)


def _wells(counts: dict[str, int]) -> list[DuplexWell]:
    out = []
    for i, (sample, mut) in enumerate(counts.items()):
        out += [DuplexWell(w.well, w.sample, w.ch1_target, w.ch2_target, mut if "E545K" in w.ch1_target else w.ch1_positives,
                           w.ch2_positives, w.accepted) for w in sample_wells(sample, well0=4 * i)]
    return out


def test_a_release_covers_the_patients_timeline_page_and_the_fhir_bundle_has_a_set_per_timepoint(tmp_path):
    """Issue 26: the timeline is a page of the patient PDF and part of what a release attests; the FHIR bundle has
    one set of Observations per timepoint at its collection date."""
    import io

    from pypdf import PdfReader

    import tdm1core.app.workflows as wf
    from tdm1core.app.monitoring import import_serial_tables, patient_timeline
    from tdm1core.demo import demo_series_paths
    from tdm1core.reporting.fhir import fhir_bundle
    from tdm1core.storage.access import User

    reviewer = User(subject="rev", email="rev@h.example", name="Rev", roles=frozenset({"reviewer", "clinician"}),
                    mode="local", session="s")
    samples, export, events = demo_series_paths()
    store = wf.open_store(f"sqlite:///{tmp_path / 'r.sqlite'}", seed=False)
    # the series' export under another name is the patient's own data here (the demo export itself is never released)
    data = export.read_bytes() + b"\n"
    wf.import_exports(store, [(data, "series.csv")], Settings())
    import_serial_tables(store, (samples.read_bytes(), samples.name), (events.read_bytes(), events.name), Settings())
    tl = patient_timeline(store, Settings(), "M01", reviewer)
    assert tl is not None and len(tl.timepoints) == 5
    assert patient_timeline(store, Settings(), "nobody", reviewer) is None
    a = wf.assess_upload(data, "series.csv", Settings(), reviewer)
    result = wf.patient_result(a.sample("M01-T5"), "positive", "negative", "M01")
    plain, with_tl = wf.release_digest(result, a.provenance), wf.release_digest(result, a.provenance, tl)
    assert plain != with_tl
    with pytest.raises(InputError, match="changed after the review"):  # attested without the timeline: refused
        wf.release_result(store, result, a.provenance, reviewed=plain, who=reviewer, monitoring=tl)
    rel = wf.release_result(store, result, a.provenance, reviewed=with_tl, who=reviewer, monitoring=tl)
    assert rel.content["monitoring"]["patient_id"] == "M01"
    pdf = store.released_pdf(rel.stamp.report_id, 1)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Serial ctDNA on T-DM1: patient M01" in text and "lead time: 66 days" in text
    bundle = fhir_bundle(rel, pdf)
    pytest.importorskip("fhir.resources")
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    dated = [e["resource"] for e in bundle["entry"] if "effectiveDateTime" in e["resource"]]
    assert sorted({o["effectiveDateTime"] for o in dated}) == sorted(t.collection_date for t in tl.timepoints)
    assert len(dated) == 3 * len(tl.timepoints)  # the three hotspots of each timepoint


def test_one_patients_stored_calls_are_read_by_sample_and_equal_the_registrys_pass(tmp_path):
    """A few samples are read through the index by sample, a registry's in one pass over the fingerprint's calls:
    both give the same entries, and one patient's timeline is that patient's entry of the whole registry's."""
    from tdm1core.app.monitoring import import_serial_tables, monitor_stored
    from tdm1core.app.workflows import import_exports, open_store
    from tdm1core.demo import demo_series_paths

    s, e, ev = demo_series_paths()
    f = lambda p: (p.read_bytes(), p.name)  # noqa: E731
    store = open_store(f"sqlite:///{tmp_path / 'm.sqlite'}", seed=False)
    import_exports(store, [f(e)], Settings())
    import_serial_tables(store, f(s), f(ev), Settings())
    ids = [r.sample_id for r in store.serial_rows()[0]]
    fingerprint = Settings().calls_fingerprint()
    by_sample = store.stored_levels(ids, fingerprint)
    one_pass = store.stored_levels(ids + [f"absent-{k}" for k in range(1000)], fingerprint)  # > 900: the pass
    assert by_sample == one_pass and sorted(by_sample) == sorted(ids)
    every = {t.patient_id: t.to_dict() for t in monitor_stored(store, Settings())}
    for patient in every:
        (tl,) = monitor_stored(store, Settings(), patient)
        assert tl.to_dict() == every[patient]
    assert gc.isenabled()  # the bulk block gave the collector back


def test_the_collector_is_paused_only_inside_the_block_and_only_restored_by_who_paused_it():
    from tdm1core._bulk import no_cycle_collection

    assert gc.isenabled()
    with no_cycle_collection():
        assert not gc.isenabled()
        with no_cycle_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block did not pause it, so it does not restore it
    assert gc.isenabled()
    with pytest.raises(ValueError), no_cycle_collection():
        raise ValueError("an error inside")
    assert gc.isenabled()


def test_the_demo_series_imported_into_the_database_is_demo_data_and_goes_with_the_demo(tmp_path):
    """The SYNTHETIC demo series stored (its export, samples and events) reads as from its files, and removing the
    demo removes it, while a user's own serial samples stay."""
    from tdm1core.app.monitoring import import_demo_series, import_serial_tables, monitor_files, monitor_stored
    from tdm1core.app.workflows import open_store
    from tdm1core.demo import demo_series_paths

    store = open_store(f"sqlite:///{tmp_path / 'demo.sqlite'}")  # seeded with the demo
    before = store.demo_removal_plan()
    assert before.serial_samples == 0
    s, e, ev = demo_series_paths()
    f = lambda p: (p.read_bytes(), p.name)  # noqa: E731
    assert import_demo_series(store, Settings()) == (16, 12)
    assert [t.to_dict() for t in monitor_stored(store, Settings())] == \
        [t.to_dict() for t in monitor_files(f(s), [f(e)], f(ev), Settings())]
    import_serial_tables(store, (b"patient_id,sample_id,collection_date\nR1,R1-T0,2016-01-01\n", "own.csv"), None,
                         Settings())
    plan = store.demo_removal_plan()
    assert (plan.files, plan.serial_samples) == (before.files + 1, 16)
    assert "the demo series' 16 serial sample(s)" in plan.summary()
    assert store.remove_demo().serial_samples == 16
    samples, events = store.serial_rows()
    assert [x.sample_id for x in samples] == ["R1-T0"] and events == []
