"""Issue 25, the lab's bench: any plate is shown (mapped or not), calls only for the panel's samples, the others
named; built in code in the documented layouts, and on a real PoDCall plate where it is present."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings as settings_h, strategies as st

from builders import plate_droplet_files, qs17, sample_wells
from tdm1core.app.lab import review_plate
from tdm1core.app.patient import assess_droplets
from tdm1core.demo.writer import DuplexWell
from tdm1core.errors import InputError
from tdm1core.reading.thresholds import DropletThresholds
from tdm1core.settings import Settings

PODCALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "ddpcr" / "quantasoft174_podcall_plate"


def _mixed_plate():
    """A panel sample (HER2/EFTUD2 and the three PIK3CA duplexes) and a methylation assay of another sample."""
    wells = sample_wells("P1", her2=2600, eftud2=1000)
    wells.append(DuplexWell("F01", "SW480", "VIM", "new4Plex", 60, 8000, 15000))
    return plate_droplet_files(wells, "Run1") + [(qs17(wells), "Run1_results.csv")]


def test_a_plate_with_another_assay_is_shown_and_only_the_panel_sample_called():
    review = review_plate(_mixed_plate(), Settings(), DropletThresholds())
    assert review.assessment is not None and review.assessment.samples == ["P1"]
    assert review.not_called is None
    assert len(review.not_in_panel) == 1 and "SW480" in review.not_in_panel[0] and "VIM" in review.not_in_panel[0]
    summary = review.summary_frame().set_index("well")
    assert summary.loc["F01", "Ch1 target"] == "VIM" and summary.loc["F01", "Ch1 positive"] == 60
    assert summary.loc["F01", "Ch2 positive"] == 8000  # the instrument's clusters, counted for an unmapped target too
    calls = review.calls_frame()
    assert list(calls["sample"]) == ["P1"] and calls.loc[0, "HER2"] == "amplified"


def test_the_patient_page_names_the_samples_that_are_not_called():
    assessment, _ = assess_droplets(_mixed_plate(), Settings(), DropletThresholds())
    assert assessment.samples == ["P1"]
    assert any("SW480" in w and "not part of the panel" in w for w in assessment.export.warnings)


def test_a_sample_with_one_unmapped_target_is_left_out_whole():
    wells = sample_wells("P1") + sample_wells("P2", well0=4)
    wells[5] = DuplexWell(wells[5].well, "P2", "PIK3CA E545 MUTANT?", "PIK3CA E545K WT", 5, 600, 15000)  # a typo
    files = plate_droplet_files(wells, "Run1") + [(qs17(wells), "Run1_results.csv")]
    review = review_plate(files, Settings(), DropletThresholds())
    assert review.assessment.samples == ["P1"]  # never P2 from three of its four duplexes
    assert "P2" in review.not_in_panel[0] and "PIK3CA E545 MUTANT?" in review.not_in_panel[0]


def test_a_plate_with_no_panel_sample_is_shown_with_the_reason():
    wells = [DuplexWell("A01", "SW1", "VIM", "new4Plex", 100, 5000, 15000)]
    files = plate_droplet_files(wells, "M1") + [(qs17(wells), "M1_results.csv")]
    review = review_plate(files, Settings(), DropletThresholds())
    assert review.assessment is None and "no sample of this plate is part of the panel" in review.not_called
    assert len(review.summary_frame()) == 1
    with pytest.raises(InputError, match="part of the panel"):
        assess_droplets(files, Settings(), DropletThresholds())


def test_the_real_podcall_plate_is_shown_not_refused():
    if not PODCALL.is_dir():
        pytest.skip(f"the shared PoDCall plate is not here ({PODCALL})")
    files = [(p.read_bytes(), p.name) for p in sorted(PODCALL.iterdir())]
    review = review_plate(files, Settings(), DropletThresholds())
    summary = review.summary_frame().set_index("well")
    # PROVENANCE.md: A04's clusters 1789/950/11114/4886 (Ch1+Ch2+, Ch1+Ch2-, Ch1-Ch2+, Ch1-Ch2-): VIM 2739, new4Plex 12903
    assert summary.loc["A04", "Ch1 positive"] == 1789 + 950 and summary.loc["A04", "Ch2 positive"] == 1789 + 11114
    assert len(review.not_in_panel) == 5 and review.assessment is None


# ------------------------------------------------------------------ QC reason codes, each firing and not firing

import numpy as np  # noqa: E402

from builders import cluster_codes, droplet_csv, duplex_droplets  # noqa: E402
from tdm1core.calling.well_qc import QC_CODES, plate_qc  # noqa: E402
from tdm1core.reading.plate import classify_plate, read_plate  # noqa: E402


def _qc(wells, droplets=None, thresholds=None, settings=None):
    """QC codes per well of a plate built from DuplexWells (``droplets`` replaces a well's amplitude file)."""
    files = plate_droplet_files(wells, "Q1")
    for well, data in (droplets or {}).items():
        files = [(data, name) if f"_{well}_" in name else (d, name) for d, name in files]
    files.append((qs17(wells), "Q1_results.csv"))
    s = settings or Settings()
    classified = classify_plate(read_plate(files, s), thresholds or DropletThresholds())
    return {w: [f.code for f in flags] for w, flags in plate_qc(classified, s).items()}


def test_a_clean_plate_has_no_qc_finding():
    assert set(map(tuple, _qc(sample_wells("P1")).values())) == {()}


def test_low_droplets_fires_below_the_minimum_in_force():
    wells = sample_wells("P1")
    wells[1] = DuplexWell("B01", "P1", "PIK3CA E542K MUT", "PIK3CA E542K WT", 0, 50, 1185)  # the 1,185
    assert _qc(wells)["B01"] == ["LOW_DROPLETS"] and _qc(wells)["A01"] == []
    assert _qc(wells, settings=Settings(min_accepted_droplets=1000))["B01"] == []


def test_an_ntc_with_positives_fires_and_a_clean_ntc_does_not():
    wells = sample_wells("P1") + [DuplexWell("F01", "NTC", "PIK3CA E545K MUT", "PIK3CA E545K WT", 4, 0, 15000)]
    assert _qc(wells)["F01"] == ["NTC_POSITIVE"]
    wells[-1] = DuplexWell("F01", "NTC", "PIK3CA E545K MUT", "PIK3CA E545K WT", 0, 0, 15000)
    assert _qc(wells)["F01"] == []


def test_saturation_and_clipping():
    wells = sample_wells("P1")
    wells[0] = DuplexWell("A01", "P1", "HER2", "EFTUD2", 15000, 1000, 15000)  # every droplet HER2-positive
    assert "SATURATED" in _qc(wells)["A01"]
    amp, t1, t2 = duplex_droplets(np.random.default_rng(1), 15000, 0, 600)
    amp[t2, 1] = 6500.0  # the detector's ceiling: every positive at one amplitude
    clipped = droplet_csv(amp, "qs", clusters=cluster_codes(t1, t2))
    assert _qc(sample_wells("P1"), {"B01": clipped})["B01"] == ["CLIPPED"]


def test_heavy_rain_fires_with_automatic_thresholds_only():
    amp, t1, t2 = duplex_droplets(np.random.default_rng(2), 15000, 0, 600)
    fog = np.random.default_rng(3).choice(np.flatnonzero(~t2), 900, replace=False)
    amp[fog, 1] = np.random.default_rng(4).uniform(2600, 5400, fog.size)  # 6 % of the droplets between the clusters
    rainy = droplet_csv(amp, "qs", clusters=cluster_codes(t1, t2))
    assert "RAIN" in _qc(sample_wells("P1"), {"B01": rainy}, DropletThresholds(method="auto"))["B01"]
    assert "RAIN" not in _qc(sample_wells("P1"), thresholds=DropletThresholds(method="auto"))["B01"]


def test_replicates_that_disagree_beyond_poisson_fire_and_agreeing_ones_do_not():
    agree = sample_wells("P1") + [DuplexWell("E01", "P1", "HER2", "EFTUD2", 1230, 990, 15000)]
    assert "REPLICATE_DISAGREE" not in _qc(agree)["E01"]
    differ = sample_wells("P1") + [DuplexWell("E01", "P1", "HER2", "EFTUD2", 2400, 1000, 15000)]
    found = _qc(differ)
    assert "REPLICATE_DISAGREE" in found["A01"] and "REPLICATE_DISAGREE" in found["E01"]


def test_a_drifting_negative_cluster_fires():
    amp, t1, t2 = duplex_droplets(np.random.default_rng(5), 15000, 0, 600)
    amp[:, 1] += np.where(~t2, np.linspace(0, 1500, 15000), 0)  # the HEX baseline climbs across the well
    drifting = droplet_csv(amp, "qs", clusters=cluster_codes(t1, t2))
    assert _qc(sample_wells("P1"), {"B01": drifting})["B01"] == ["DRIFT"]


def test_every_code_is_documented():
    from tdm1core.calling import well_qc

    for code in QC_CODES:
        assert code in well_qc.__doc__


def test_droplets_json_has_qc_codes_per_well(tmp_path):
    import json
    import subprocess
    import sys

    wells = sample_wells("P1")
    wells[1] = DuplexWell("B01", "P1", "PIK3CA E542K MUT", "PIK3CA E542K WT", 0, 50, 1185)
    for data, name in plate_droplet_files(wells, "Q1") + [(qs17(wells), "Q1_results.csv")]:
        (tmp_path / name).write_bytes(data)
    out = subprocess.run([sys.executable, "-m", "tdm1core", "droplets", str(tmp_path), "--json"], capture_output=True,
                         text=True, cwd=Path(__file__).parents[1], timeout=120)
    assert out.returncode == 0, out.stderr
    rows = {r["well"]: r for r in json.loads(out.stdout)}
    assert [f["code"] for f in rows["B01"]["qc"]] == ["LOW_DROPLETS"] and rows["A01"]["qc"] == []
    assert "1,185 accepted droplets" in rows["B01"]["qc"][0]["message"]


# ------------------------------------------------------------------ every classification the instruments write

def _qx600_well(seed: int = 7, n: int = 12000, bd: int = 103, ipc: int = 4000, unclassified: int = 25):
    """Six channels; targets Bd (Ch3) and IPC (Ch5) as QX Manager names its class columns, with 'u' droplets."""
    rng = np.random.default_rng(seed)
    amp = rng.normal(1500, 80, (n, 6))
    bd_pos = np.zeros(n, bool)
    bd_pos[rng.choice(n, bd, replace=False)] = True
    ipc_pos = np.zeros(n, bool)
    ipc_pos[rng.choice(n, ipc, replace=False)] = True
    amp[bd_pos, 2] = rng.normal(7000, 300, bd)
    amp[ipc_pos, 4] = rng.normal(5000, 250, ipc)
    u = rng.choice(n, unclassified, replace=False)
    bd_cls = np.where(bd_pos, "1", "0").astype(object)
    bd_cls[u] = "u"
    return droplet_csv(amp, "qx600", classes={"Bd": bd_cls, "IPC": np.where(ipc_pos, "1", "0")}), bd_pos, u, ipc_pos


def test_a_six_channel_qx_manager_file_keeps_its_per_target_classes_without_a_results_export():
    data, bd_pos, u, ipc_pos = _qx600_well()
    classified = classify_plate(read_plate([(data, "Run6_A01_Amplitude.csv")], Settings()), DropletThresholds())
    from tdm1core.reading.plate import plate_summary

    row = plate_summary(classified)[0]
    expected_bd = int(bd_pos.sum() - bd_pos[u].sum())  # the 'u' droplets are unclassified, not positive
    assert row["instrument_classes"]["Bd"] == {"positive": expected_bd, "negative": 12000 - expected_bd - len(u),
                                              "unclassified": len(u)}
    # a droplet unclassified in one channel is out of every channel's count (the well's accepted droplets)
    assert row["positives"]["Ch3"] == expected_bd and row["positives"]["Ch5"] == int(ipc_pos.sum() - ipc_pos[u].sum())
    assert any("Bd: channel Ch3 inferred" in w for w in row["warnings"])
    assert row["droplets"] == 12000 - len(u)  # unclassified droplets are out of the accepted count, and counted


def test_a_sample_sheet_places_the_class_columns_without_inference():
    data, bd_pos, u, _ = _qx600_well()
    sheet = b"Well,Sample,TargetType,Target,DyeName(s)\nA01,S1,Ch3Unknown,Bd,CY5\nA01,S1,Ch5Unknown,IPC,ROX\n"
    classified = classify_plate(read_plate([(data, "Run6_A01_Amplitude.csv"), (sheet, "sheet.csv")], Settings()),
                                DropletThresholds())
    c = classified.wells[0]
    assert c.channel("Ch3").positives == int(bd_pos.sum() - bd_pos[u].sum())
    assert not any("inferred" in w for w in c.warnings)


@settings_h(max_examples=20, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_classification_does_not_depend_on_the_order_of_the_droplets(seed):
    amp, t1, t2 = duplex_droplets(np.random.default_rng(11), 6000, 40, 1500, rain=True)
    order = np.random.default_rng(seed).permutation(len(amp))
    counts = []
    for idx in (np.arange(len(amp)), order):
        data = droplet_csv(amp[idx], "qs", clusters=cluster_codes(t1[idx], t2[idx]))
        for method in ("instrument", "auto", "extreme"):
            c = classify_plate(read_plate([(data, "O1_A01_Amplitude.csv")], Settings()), DropletThresholds(method=method)).wells[0]
            counts.append((method, tuple((ch.channel, ch.positives, ch.negatives, ch.threshold) for ch in c.channels)))
    assert counts[:3] == counts[3:]


# ------------------------------------------------------------------ limits from what the lab has

def _pik3ca_blank_export(samples: int = 20, positives: int = 1) -> bytes:
    wells, pos = [], [f"{r}{c:02d}" for c in range(1, 13) for r in "ABCDEFGH"]
    for i in range(samples):
        for j, h in enumerate(("E542K", "E545K", "H1047R")):
            wells.append(DuplexWell(pos[3 * i + j], f"Blank{i + 1}", f"PIK3CA {h} MUT", f"PIK3CA {h} WT",
                                    positives if i % 4 == 0 else 0, 600, 15000))
    return qs17(wells)


def test_limits_from_pik3ca_blanks_alone_without_the_reference():
    from tdm1core.app.lab import validate_limits

    v = validate_limits([(_pik3ca_blank_export(), "blanks.csv")], Settings())
    assert [lob.hotspot for lob in v.lob] == ["E542K", "E545K", "H1047R"] and all(lob.n == 20 for lob in v.lob)
    assert v.her2 is None and any("HER2" in n for n in v.notes)
    # 5 of 20 blanks with 1 positive droplet of 15,000 at 0.85 nL: the EP17-A2 rank 0.5 + 0.95 x 20 = 19.5 falls
    # among the five equal non-zero values, so the non-parametric LoB is one droplet's copies per 20 uL
    one_droplet = 20 * -math.log(1 - 1 / 15000) / 0.00085
    for lob in v.lob:
        assert lob.nonparametric == pytest.approx(one_droplet, rel=1e-9) and lob.positive_droplets == 5


def test_limits_from_a_her2_plate_alone_give_the_ratio_and_keep_the_pik3ca_cut_off():
    from tdm1core.app.lab import validate_limits

    wells = [DuplexWell(f"A{i + 1:02d}", f"Blank{i + 1}", "HER2", "EFTUD2", 1000 + 20 * i, 1000, 15000) for i in range(8)]
    v = validate_limits([(qs17(wells), "her2_blanks.csv")], Settings(pik3ca_mutant_cutoff_copies=3))
    assert v.lob == () and v.her2 is not None and v.proposed_pik3ca_cutoff == 3
    assert any("PIK3CA: no hotspot was measured" in n for n in v.notes)


# ------------------------------------------------------------------ the extreme-value threshold (after ddpcRquant)

def test_the_extreme_value_threshold_finds_a_few_mutant_droplets_and_is_named():
    from tdm1core.reading.thresholds import extreme_threshold

    rng = np.random.default_rng(21)
    amp, t1, _ = duplex_droplets(rng, 15000, 3, 4500)
    ev = extreme_threshold(amp[:, 0])
    assert amp[~t1, 0].max() < ev.threshold < 8000 - 5 * 500  # above every negative, below the mutant cluster
    # the Gumbel of the maximum of 150 normal droplets: location near the 1 - 1/150 quantile of N(1000, 90)
    from statistics import NormalDist

    assert ev.location == pytest.approx(NormalDist(1000, 90).inv_cdf(1 - 1 / 150), rel=0.02)
    data = droplet_csv(amp, "qs", clusters=cluster_codes(t1, t1 & False))
    c = classify_plate(read_plate([(data, "E1_A01_Amplitude.csv")], Settings()),
                       DropletThresholds.parse("extreme")).wells[0]
    assert c.channel("Ch1").positives == 3 and c.channel("Ch1").method == "extreme"
    assert "ddpcRquant" in DropletThresholds(method="extreme").describe()


def test_the_extreme_value_threshold_rarely_calls_pure_noise_positive():
    from tdm1core.reading.thresholds import extreme_threshold

    false = 0
    for seed in range(40):
        x = np.random.default_rng(seed).normal(1000, 90, 15000)
        false += int((x >= extreme_threshold(x).threshold).sum())
    # expected about blocks x (1 - p) = 0.05 exceeding blocks per well, so a handful of droplets in 40 wells
    assert false <= 8


def test_the_extreme_value_threshold_stays_below_a_positive_cluster():
    from tdm1core.reading.thresholds import auto_threshold, extreme_threshold

    amp, _, t2 = duplex_droplets(np.random.default_rng(3), 15000, 0, 4500, rain=True)
    assert extreme_threshold(amp[:, 1]).threshold <= auto_threshold(amp[:, 1]).threshold


def test_targets_multiplexed_in_one_channel_are_each_classified_by_their_own_class_column():
    """QX Manager: two targets in Ch1 at different amplitudes (TA low, TB high), one in Ch2; each class column is
    read for its own target, and the results export's counts are matched per target."""
    from builders import QXM_HEADER_A, qxm, qxm_row
    from tdm1core.reading.plate import plate_summary

    rng = np.random.default_rng(8)
    n = 12000
    ta = np.zeros(n, bool)
    ta[rng.choice(n, 700, replace=False)] = True
    tb = np.zeros(n, bool)
    tb[rng.choice(np.flatnonzero(~ta), 300, replace=False)] = True
    ref = np.zeros(n, bool)
    ref[rng.choice(n, 2500, replace=False)] = True
    ch1 = np.where(ta, rng.normal(5000, 200, n), np.where(tb, rng.normal(9000, 300, n), rng.normal(1000, 80, n)))
    ch2 = np.where(ref, rng.normal(6000, 250, n), rng.normal(2000, 100, n))
    classes = {name: np.where(mask, "1", "0") for name, mask in (("TA", ta), ("TB", tb), ("REF", ref))}
    droplets = droplet_csv(np.column_stack([ch1, ch2]), "qxm", classes=classes)
    results = qxm([qxm_row(QXM_HEADER_A, "A01", "S1", "TA", "FAM", "Unknown", 700, n),
                   qxm_row(QXM_HEADER_A, "A01", "S1", "TB", "FAM", "Unknown", 300, n),
                   qxm_row(QXM_HEADER_A, "A01", "S1", "REF", "HEX", "Unknown", 2500, n)])
    plate = read_plate([(droplets, "MX_A01_Amplitude.csv"), (results, "MX_results.csv")], Settings())
    classified = classify_plate(plate, DropletThresholds())
    row = plate_summary(classified)[0]
    assert row["positives"] == {"TA": 700, "TB": 300, "REF": 2500}
    c = classified.wells[0]
    assert {ch.channel for ch in c.channels} == {"Ch1:TA", "Ch1:TB", "Ch2"}


def test_the_rain_droplets_are_shown_in_the_1d_plot_as_counted():
    from tdm1core.plotting.droplet_plots import channel_1d_figure

    amp, t1, t2 = duplex_droplets(np.random.default_rng(1), 8000, 10, 2000, rain=True)
    data = droplet_csv(amp, "qs", clusters=cluster_codes(t1, t2))
    c = classify_plate(read_plate([(data, "R_A01_Amplitude.csv")], Settings()), DropletThresholds(method="auto")).wells[0]
    traces = {tr.name.split(":")[0]: len(tr.x) for tr in channel_1d_figure(c, "Ch2").data}
    assert traces["rain (between the clusters)"] == c.channel("Ch2").rain > 0
    assert sum(traces.values()) == 8000


def test_an_ntc_is_judged_against_the_labs_limit_of_blank_of_the_profile_in_force():
    # the E545K NTC with 2 positive droplets of 15,000: above LoB 0 (no profile), below a lab LoB of 3 copies/20 uL
    wells = sample_wells("P1") + [DuplexWell("F01", "NTC", "PIK3CA E545K MUT", "PIK3CA E545K WT", 2, 0, 15000)]
    assert _qc(wells)["F01"] == ["NTC_POSITIVE"]
    lab = Settings(blank_limits=(("E545K", 3.0),))
    # 3 copies/20 uL as droplets of 15,000 at 0.85 nL: 15000 (1 - exp(-3 x 0.85e-3 / 20)) = 1.9 droplets, so 2 is above
    assert 15000 * (1 - math.exp(-3 * 0.85e-3 / 20)) == pytest.approx(1.912, abs=1e-3)
    assert _qc(wells, settings=lab)["F01"] == ["NTC_POSITIVE"]
    assert _qc(wells, settings=Settings(blank_limits=(("E545K", 4.0),)))["F01"] == []  # 2.55 droplets allowed
