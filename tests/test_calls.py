"""Calls on the demo export reproduce the study's Table 3; manual entry gives the same calls."""
import math

import pytest

from builders import QXM_HEADER_A, conc, qs17, qxm, qxm_row, sample_wells
from tdm1core.calling.calls import ManualEntry, call_export, call_manual, measure_export
from tdm1core.reading.exports import read_export
from tdm1core.demo import demo_export_path
from tdm1core.demo.writer import DuplexWell
from tdm1core.errors import InputError, TargetMapError
from tdm1core.settings import Settings

# Table 3 of the study, typed from the paper: HER2 ratio, E545K mutant copies
PAPER_RATIO = {1: 0.91, 2: 1.1, 3: 0.95, 4: 0.93, 5: 1.02, 6: 1.11, 7: 1.11, 8: 1.06, 9: 2.14, 10: 4.23,
               11: 0.93, 12: 1.45, 13: 7.56, 14: 1.23, 15: 1.82, 16: 1.14}
PAPER_MUTANT = {(2, "E542K"): 1.6, (2, "H1047R"): 1.6, (6, "E545K"): 18, (7, "H1047R"): 2.4,
                (11, "E542K"): 1.8, (11, "E545K"): 4.6, (13, "E545K"): 1.6}
PAPER_WT_E542K = {1: 686, 6: 1264, 11: 4000, 14: 144}


@pytest.fixture(scope="module")
def demo_calls():
    return {c.sample: c for c in call_export(read_export(demo_export_path()))}


def test_demo_reproduces_table3_her2_ratios_and_calls(demo_calls):
    assert len(demo_calls) == 16
    for patient, ratio in PAPER_RATIO.items():
        c = demo_calls[f"P{patient:02d}"]
        assert round(c.her2.ratio, 2) == ratio
        assert c.her2.reference_copies > 100
    amplified = {int(s[1:]) for s, c in demo_calls.items() if c.her2.call == "amplified"}
    assert amplified == {9, 10, 12, 13, 15}


def test_demo_reproduces_table3_pik3ca(demo_calls):
    for (patient, hotspot), copies in PAPER_MUTANT.items():
        h = demo_calls[f"P{patient:02d}"].pik3ca.hotspot(hotspot)
        assert round(h.mutant_copies, 0 if copies == 18 else 1) == copies
    for patient, wt in PAPER_WT_E542K.items():
        assert round(demo_calls[f"P{patient:02d}"].pik3ca.hotspot("E542K").wildtype_copies) == wt
    positives = {(int(s[1:]), h.hotspot) for s, c in demo_calls.items() for h in c.pik3ca.hotspots if h.call == "positive"}
    assert positives == {(6, "E545K"), (11, "E545K")}
    assert {s for s, c in demo_calls.items() if c.pik3ca.any_mutant} == {"P06", "P11"}


def test_ratio_123_is_below_the_cutoff_and_every_call_carries_its_settings(demo_calls):
    c = demo_calls["P14"]
    assert c.her2.call == "not amplified"
    assert c.her2.borderline  # its interval crosses 1.25
    assert c.settings == Settings()


def test_ratio_is_concentration_ratio_not_the_cnv_column():
    wells = [DuplexWell("A01", "S", "HER2", "EFTUD2", 1250, 1000, 15000)] + sample_wells("S")[1:]
    c = call_export(read_export(qs17(wells), "x.csv"))[0]
    assert c.her2.ratio == pytest.approx(conc(1250, 15000) / conc(1000, 15000))


def test_cutoff_setting_changes_the_call(demo_calls):
    export = read_export(demo_export_path())
    strict = {c.sample: c for c in call_export(export, Settings(her2_ratio_cutoff=1.2))}
    assert strict["P14"].her2.call == "amplified"
    assert strict["P14"].her2.cutoff == 1.2


def test_low_reference_makes_the_sample_not_evaluable():
    c = call_export(read_export(qs17(sample_wells(her2=60, eftud2=50)), "low.csv"))[0]
    assert c.her2.call == "not evaluable"
    assert "not above the minimum of 100" in c.her2.reason
    assert all(h.call == "not evaluable" for h in c.pik3ca.hotspots)
    assert c.pik3ca.any_mutant is None


def test_too_few_droplets_make_the_well_not_evaluable():
    c = call_export(read_export(qs17(sample_wells(n=8000)), "few.csv"))[0]
    assert c.her2.call == "not evaluable" and "8,000 accepted droplets" in c.her2.reason


def test_missing_pik3ca_wells_are_not_evaluable_not_negative():
    wells = sample_wells("S")[:1]
    c = call_export(read_export(qs17(wells), "her2only.csv"))[0]
    assert c.her2.call in ("amplified", "not amplified")
    assert all(h.call == "not evaluable" for h in c.pik3ca.hotspots)
    assert c.pik3ca.any_mutant is None


def test_unknown_targets_are_named_with_the_accepted_names():
    wells = [DuplexWell("A01", "S", "KRAS G12D", "EFTUD2", 10, 900, 15000)]
    with pytest.raises(TargetMapError) as info:
        call_export(read_export(qs17(wells), "kras.csv"))
    assert "'KRAS G12D'" in str(info.value) and "ERBB2" in str(info.value) and "target map" in str(info.value)


def test_an_export_without_reference_wells_is_rejected():
    wells = [DuplexWell("A01", "S", "PIK3CA E545K MUT", "PIK3CA E545K WT", 10, 900, 15000)]
    with pytest.raises(TargetMapError) as info:
        call_export(read_export(qs17(wells), "noref.csv"))
    assert "no reference (EFTUD2)" in str(info.value)


def test_target_aliases_and_channels_map_lab_names():
    rows = [qxm_row(QXM_HEADER_A, "A01", "S1", "1", "FAM", "Unknown", 1300, 18000),
            qxm_row(QXM_HEADER_A, "A01", "S1", "2", "HEX", "Reference", 900, 18000),
            qxm_row(QXM_HEADER_A, "A02", "S1", "E545K", "FAM", "Unknown", 5, 18000),
            qxm_row(QXM_HEADER_A, "A02", "S1", "E545K", "HEX", "Unknown", 700, 18000)]
    settings = Settings(target_aliases=(("1", "HER2"), ("2", "EFTUD2")))
    sm = measure_export(read_export(qxm(rows), "qx.csv"), settings)["S1"]
    assert set(sm.measurements) == {"HER2", "EFTUD2", "E545K MUT", "E545K WT"}
    assert sm.measurements["E545K MUT"].positives == 5


def test_saturated_reference_is_not_evaluable():
    rows = [qxm_row(QXM_HEADER_A, "A01", "S1", "HER2", "FAM", "Unknown", 1300, 18000),
            qxm_row(QXM_HEADER_A, "A01", "S1", "EFTUD2", "HEX", "Reference", 18000, 18000, conc_text="1000000")]
    c = call_export(read_export(qxm(rows), "sat.csv"))[0]
    assert c.her2.call == "not evaluable" and "saturated" in c.her2.reason


def test_manual_entry_gives_the_same_calls_as_the_export(demo_calls):
    p6 = demo_calls["P06"]
    m = call_manual(ManualEntry(
        sample="P06", her2_copies=p6.her2.her2_copies, eftud2_copies=p6.her2.reference_copies,
        pik3ca={h.hotspot: (h.mutant_copies, h.wildtype_copies) for h in p6.pik3ca.hotspots}))
    assert m.her2.call == p6.her2.call and m.her2.ratio == pytest.approx(p6.her2.ratio)
    assert [h.call for h in m.pik3ca.hotspots] == [h.call for h in p6.pik3ca.hotspots]
    assert m.her2.ci is None  # no droplet counts, no interval


def test_manual_ratio_only():
    m = call_manual(ManualEntry(her2_ratio=2.14))
    assert m.her2.call == "amplified" and "not checked" in m.her2.reason
    assert m.pik3ca.any_mutant is None


@pytest.mark.parametrize("bad", [-1.0, math.nan, "abc"])
def test_manual_entry_rejects_impossible_numbers(bad):
    with pytest.raises(InputError):
        call_manual(ManualEntry(her2_copies=bad, eftud2_copies=500))
