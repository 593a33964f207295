"""Per-droplet amplitude files: every documented layout, plates (folders, zips), classification and the calls made
from droplets. The shared real plate is read in place (skipped where the folder is absent)."""
import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings as hyp_settings, strategies as hs

from builders import (cluster_codes, droplet_csv, duplex_droplets, plate_droplet_files, qs17, sample_wells)
from tdm1core.errors import DropletFormatError, InputError
from tdm1core.reading.droplets import FORMAT_QS_DROPLETS, FORMAT_QS_OLD_DROPLETS, FORMAT_QXM_DROPLETS, read_droplets, well_from_name
from tdm1core.reading.plate import classify_plate, plate_export, plate_summary, read_plate, read_zip
from tdm1core.settings import DEFAULT_SETTINGS
from tdm1core.reading.thresholds import DropletThresholds, auto_threshold, classify_well
from tdm1core.app.workflows import assess_droplets, assess_upload

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ddpcr"
PODCALL = SHARED / "quantasoft174_podcall_plate"
needs_podcall = pytest.mark.skipif(not PODCALL.is_dir(), reason="the shared real droplet plate is not on this machine")
AUTO = DropletThresholds(method="auto")


# ------------------------------------------------------------------ reading each layout

@pytest.mark.parametrize("layout,fmt", [("qs", FORMAT_QS_DROPLETS), ("qs_old", FORMAT_QS_OLD_DROPLETS),
                                        ("qxm", FORMAT_QXM_DROPLETS)])
def test_every_layout_reads_amplitudes_and_instrument_classes(layout, fmt):
    amp, t1, t2 = duplex_droplets(np.random.default_rng(1), 1500, 40, 300)
    amp[0] = [-59.6997452, -12.5]  # negative amplitudes are real
    data = droplet_csv(amp, layout, clusters=cluster_codes(t1, t2),
                       classes={"HER2": np.where(t1, "1", "0"), "EFTUD2": np.where(t2, "1", "0")})
    w = read_droplets(data, "Plate 60°C_B07_Amplitude.csv")
    assert (w.format, w.plate, w.well, w.droplets, w.channels) == (fmt, "Plate 60°C", "B07", 1500, ("Ch1", "Ch2"))
    assert np.allclose(w.amplitudes, amp, atol=5e-4)
    keys = ("Ch1", "Ch2") if layout != "qxm" else ("HER2", "EFTUD2")
    assert int((w.instrument[keys[0]] == 1).sum()) == t1.sum() and int((w.instrument[keys[1]] == 1).sum()) == t2.sum()


def test_qx600_six_channels_and_unclassified_droplets():
    rng = np.random.default_rng(2)
    amp = rng.normal(1000, 50, (500, 6))
    bd = np.array(["0"] * 490 + ["1"] * 8 + ["u"] * 2)
    data = droplet_csv(amp, "qx600", classes={"Bd": bd, "IPC": np.array(["1"] * 500)})
    w = read_droplets(data, "QX600 run_C03_Amplitude.csv")
    assert w.channels == tuple(f"Ch{i}" for i in range(1, 7)) and w.droplets == 500
    assert int((w.instrument["Bd"] == -1).sum()) == 2 and any("unclassified" in x for x in w.warnings)


def test_cluster_zero_and_a_file_without_clusters_are_read_with_a_warning():
    amp = np.random.default_rng(3).normal(1000, 50, (200, 2))
    codes = np.ones(200, dtype=int)
    codes[:5] = 0
    w = read_droplets(droplet_csv(amp, "qs", clusters=codes), "x_A01_Amplitude.csv")
    assert int((w.instrument["Ch1"] == -1).sum()) == 5 and "cluster 0" in w.warnings[0]
    bare = read_droplets(droplet_csv(amp, "qs_bare"), "x_A02_Amplitude.csv")
    assert bare.instrument == {} and "no instrument classes" in bare.warnings[0]


def test_file_names_give_plate_and_well():
    assert well_from_name("SMN2v2_20220630_162335_752_A01_Amplitude.csv") == ("SMN2v2_20220630_162335_752", "A01")
    assert well_from_name("dir/run_P24_amplitude.CSV") == ("run", "P24")
    assert well_from_name("results.csv") == (None, None)


@hyp_settings(max_examples=60, deadline=None)
@given(hs.lists(hs.tuples(hs.floats(-2000, 40000, allow_nan=False), hs.floats(-2000, 40000, allow_nan=False),
                          hs.integers(0, 4)), min_size=1, max_size=60))
def test_any_quantasoft_droplet_file_reads_back(rows):
    amp = np.array([[a, b] for a, b, _ in rows])
    codes = np.array([c for _, _, c in rows])
    w = read_droplets(droplet_csv(amp, "qs", clusters=codes), "p_A01_Amplitude.csv")
    assert np.allclose(w.amplitudes, amp, rtol=1e-12, atol=1e-9)
    assert np.array_equal(w.cluster_codes(), codes)


_BASE = "Ch1 Amplitude,Ch2 Amplitude,Cluster\n1000.5,2000.1,1\n1001.2,6000.3,4\n"


@pytest.mark.parametrize("variant", [
    _BASE.replace("\n", "\r\n"), _BASE.replace("\n", "\r"), _BASE + "\n\n", _BASE.replace("\n", "\r\n") + "\r\n",
    _BASE.replace("Ch1 Amplitude,Ch2 Amplitude,Cluster", '"Ch1 Amplitude","Ch2 Amplitude","Cluster"'),
    _BASE.replace(",", ", "), _BASE.rstrip("\n"), "\ufeff" + _BASE,
], ids=["CRLF", "CR only", "blank lines at the end", "CRLF blank line at the end", "quoted header", "spaces",
        "no final newline", "BOM"])
def test_files_as_labs_resave_them_read_the_same(variant):
    w = read_droplets(variant.encode("utf-8"), "p_A01_Amplitude.csv")
    assert w.amplitudes.tolist() == [[1000.5, 2000.1], [1001.2, 6000.3]]
    assert w.cluster_codes().tolist() == [1, 4]


def test_a_blank_line_among_the_droplets_is_refused():
    with pytest.raises(DropletFormatError) as e:
        read_droplets((_BASE + "\n1002.0,2001.0,1\n").encode(), "p_A01_Amplitude.csv")
    assert e.value.row == 4


# ------------------------------------------------------------------ refusals

def _qs_text(rows: list[str]) -> bytes:
    return ("Ch1 Amplitude,Ch2 Amplitude,Cluster\n" + "\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("data,line,column,words", [
    (_qs_text(["1000.5,2000.1,1", "1001.2,abc,1"]), 3, "Ch2 Amplitude", "expected an amplitude"),
    (_qs_text(["1000.5,2000.1,1", "1001.2,,1"]), 3, "Ch2 Amplitude", "blank"),
    (_qs_text(["1000.5,2000.1,1", "1001.2,2000.3,1,9"]), 3, None, "fields but the header has 3"),
    (_qs_text(["1000.5,2000.1,1", "1001.2,2000.3,7"]), 3, "Cluster", "cluster code 0-4"),
    (_qs_text(["1000.5,2000.1,1", "1e9,2000.3,1"]), 3, "Ch1 Amplitude", "beyond any instrument"),
])
def test_damaged_droplet_rows_are_refused_with_line_and_column(data, line, column, words):
    with pytest.raises(DropletFormatError) as e:
        read_droplets(data, "run_A01_Amplitude.csv")
    assert e.value.row == line and e.value.column == column and words in str(e.value)
    assert "run_A01_Amplitude.csv" in str(e.value)


def test_a_qx_manager_class_that_is_not_0_1_or_u_is_refused():
    amp = np.ones((3, 2))
    data = droplet_csv(amp, "qxm", classes={"1": np.array(["0", "1", "x"]), "2": np.array(["0", "0", "0"])})
    with pytest.raises(DropletFormatError) as e:
        read_droplets(data, "q_A01_Amplitude.csv")
    assert e.value.row == 8 and e.value.column == "1"


def test_a_results_export_given_as_droplets_is_named():
    with pytest.raises(DropletFormatError, match="well-level results export, not a per-droplet"):
        read_droplets(qs17(sample_wells("S1")), "run_A01_Amplitude.csv")


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_bombs_and_paths_outside_the_archive_are_refused():
    bomb = _zip({"run_A01_Amplitude.csv": b"Ch1 Amplitude,Ch2 Amplitude,Cluster\n" + b"0" * (40 * 1024 * 1024)})
    with pytest.raises(DropletFormatError, match="decompression bomb"):
        read_zip(bomb, "plate.zip")
    with pytest.raises(DropletFormatError, match="outside itself"):
        read_zip(_zip({"../run_A01_Amplitude.csv": b"x"}), "plate.zip")
    with pytest.raises(DropletFormatError, match="damaged"):
        read_zip(b"PK\x03\x04not really a zip", "plate.zip")


def test_two_files_for_one_well_are_refused():
    files = plate_droplet_files(sample_wells("S1")[:1], "RunA") + plate_droplet_files(sample_wells("S1")[:1], "RunB")
    with pytest.raises(DropletFormatError, match="well A01 has two droplet files"):
        read_plate(files)


def test_windows_zip_member_names_in_cp437_are_read(monkeypatch):
    """Windows' zip writes names in CP437 without the UTF-8 flag: '60°C' arrives as byte 0xF8."""
    files = plate_droplet_files(sample_wells("S1")[:1], "Run 60°C")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("placeholder_A01_Amplitude.csv")
        z.writestr(info, files[0][0])
    raw = buf.getvalue().replace(b"placeholder", "Run 60°C".encode("cp437").ljust(len("placeholder"), b"_"))
    members = read_zip(raw, "plate.zip")
    assert members[0][1].startswith("Run 60°C") and b"\xf8" in raw


# ------------------------------------------------------------------ classification

@pytest.mark.parametrize("true_mutant", [0, 1, 3, 10])
@pytest.mark.parametrize("rain", [False, True])
def test_automatic_thresholds_find_exactly_the_true_mutant_droplets(true_mutant, rain):
    """15,000 droplets with known truth: no false positive at 0, the right count at 1, 3 and 10 (ten wells each),
    with a wild-type cluster of 30 % and a crosstalk shift of the FAM negatives of up to 8 SD."""
    for seed in range(10):
        rng = np.random.default_rng(1000 * true_mutant + seed + (500 if rain else 0))
        amp, t1, t2 = duplex_droplets(rng, 15000, true_mutant, 4500, crosstalk=[0, 400, 700][seed % 3], rain=rain)
        c = classify_well(_well(amp), AUTO)
        assert c.channel("Ch1").positives == true_mutant, (seed, c.channel("Ch1"))
        assert abs(c.channel("Ch2").positives - t2.sum()) <= (0 if not rain else 15), (seed, c.channel("Ch2"))


def _well(amp, name="syn_A01_Amplitude.csv"):
    return read_droplets(droplet_csv(amp, "qs", clusters=np.ones(len(amp), dtype=int)), name)


def test_an_automatic_threshold_never_sits_inside_the_negative_cluster():
    rng = np.random.default_rng(7)
    x = rng.normal(1000, 90, 15000)
    a = auto_threshold(x)
    assert a.positive_centre is None and a.threshold > 1000 + 10 * 90 and (x >= a.threshold).sum() == 0


def test_heavy_rain_is_counted_and_warned():
    rng = np.random.default_rng(8)
    amp, _, _ = duplex_droplets(rng, 15000, 3000, 4500)
    amp[:600, 0] = rng.uniform(2000, 7000, 600)  # 4 % of droplets between the clusters
    c = classify_well(_well(amp), AUTO)
    # those more than 5 SD below the positive centre are rain (about two thirds); the rest are the cluster's flank
    assert c.channel("Ch1").rain >= 300 and any("heavy rain" in w for w in c.warnings)


def test_manual_thresholds_count_droplets_at_or_above_and_wells_can_override():
    amp, _, _ = duplex_droplets(np.random.default_rng(9), 3000, 100, 900)
    data = droplet_csv(amp, "qs", clusters=np.ones(3000, dtype=int))
    # the count, independently: the file read with the csv module
    rows = list(csv.reader(io.StringIO(data.decode())))[1:]
    ch1 = [float(r[0]) for r in rows]
    t = DropletThresholds.parse("ch1=4000,ch2=4200,A01:ch1=7000")
    c = classify_well(read_droplets(data, "r_A01_Amplitude.csv"), t)
    assert c.channel("Ch1").threshold == 7000 and c.channel("Ch1").positives == sum(v >= 7000 for v in ch1)
    c2 = classify_well(read_droplets(data, "r_A02_Amplitude.csv"), t)
    assert c2.channel("Ch1").positives == sum(v >= 4000 for v in ch1)
    assert "manual" in t.describe() and "A01 Ch1 7000" in t.describe()


@pytest.mark.parametrize("text", ["ch7=100", "ch1=abc", "median", "ch1"])
def test_a_bad_threshold_option_is_refused(text):
    with pytest.raises(InputError):
        DropletThresholds.parse(text)


# ------------------------------------------------------------------ the shared real plate

def _podcall_files():
    return [(p.read_bytes(), p.name) for p in sorted(PODCALL.iterdir()) if p.suffix == ".csv"]


def _results_rows():
    """The results export's own counts, read with the csv module (independently of the program's reader)."""
    with (PODCALL / "Sample_names.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:] if r and r[0]]


@needs_podcall
def test_instrument_clusters_reproduce_the_results_export_exactly():
    classified = classify_plate(read_plate(_podcall_files()), DropletThresholds())
    summary = {r["well"]: r for r in plate_summary(classified)}
    export = plate_export(classified)
    ours = {(r.well, r.target.strip()): (r.positives, r.negatives, r.accepted_droplets) for r in export.wells.itertuples()}
    rows = _results_rows()
    assert len(rows) == 10
    for r in rows:
        assert ours[(r["Well"], r["Target"].strip())] == (int(r["Positives"]), int(r["Negatives"]), int(r["AcceptedDroplets"]))
        assert summary[r["Well"]]["clusters"] == {k: int(r[k]) for k in ("Ch1+Ch2+", "Ch1+Ch2-", "Ch1-Ch2+", "Ch1-Ch2-")}


@needs_podcall
def test_automatic_thresholds_agree_with_the_instrument_on_the_real_plate():
    """Within 1 % of droplets in Ch1 (well-separated clusters); within 1.5 % in Ch2, a 4-plex whose positive
    levels start about 10 SD above its negative cluster (the lab set its thresholds by hand: Status 'Manual')."""
    plate = read_plate(_podcall_files())
    inst = classify_plate(plate, DropletThresholds())
    auto = classify_plate(plate, AUTO)
    for a, b in zip(inst.wells, auto.wells):
        n = a.accepted
        assert abs(a.channel("Ch1").positives - b.channel("Ch1").positives) <= 0.01 * n, a.well.well
        assert abs(a.channel("Ch2").positives - b.channel("Ch2").positives) <= 0.015 * n, a.well.well
    for c in auto.wells:
        assert all(0 <= ch.rain < c.accepted for ch in c.channels), c.well.well
    ntc = auto.well("H05")
    assert ntc.channel("Ch1").positives == 0 and ntc.channel("Ch2").positives == 0


@needs_podcall
def test_the_zipped_real_plate_reads_like_the_folder():
    zipped = _zip({f"VIM_4Plex/{name}": data for data, name in _podcall_files()})
    a = plate_summary(classify_plate(read_plate([(zipped, "VIM_4Plex.zip")]), DropletThresholds()))
    b = plate_summary(classify_plate(read_plate(_podcall_files()), DropletThresholds()))
    assert [{k: v for k, v in r.items() if k != "file"} for r in a] == [{k: v for k, v in r.items() if k != "file"} for r in b]


# ------------------------------------------------------------------ from droplets to the same calls

@pytest.mark.parametrize("layout", ["qs", "qxm"])
def test_instrument_classes_give_the_same_calls_as_the_results_export(layout):
    wells = sample_wells("P1", her2=2600, eftud2=1000, e545k_mut=4) + sample_wells("P2", her2=900, eftud2=1100, well0=4)
    results = qs17(wells)
    files = plate_droplet_files(wells, "Run1", seed=3, layout=layout) + [(results, "Run1_results.csv")]
    from_droplets, _ = assess_droplets([(_zip({n: d for d, n in files}), "Run1.zip")], DEFAULT_SETTINGS, DropletThresholds())
    from_export = assess_upload(results, "Run1_results.csv", DEFAULT_SETTINGS)
    for a, b in zip(from_droplets.calls, from_export.calls):
        da, db = a.to_dict(), b.to_dict()
        for d in (da, db):
            d.pop("source", None)
        assert json.dumps(da, sort_keys=True, default=str) == json.dumps(db, sort_keys=True, default=str)
    assert from_droplets.provenance.droplets.startswith("droplets classified by the instrument")
    assert len(from_droplets.provenance.files) == 9


def test_automatic_thresholds_on_synthetic_droplets_give_the_true_calls():
    wells = sample_wells("P1", her2=2600, eftud2=1000, e545k_mut=4)
    files = plate_droplet_files(wells, "Run1", seed=5) + [(qs17(wells), "names.csv")]
    got, classified = assess_droplets(files, DEFAULT_SETTINGS, AUTO)
    truth = assess_upload(qs17(wells), "names.csv", DEFAULT_SETTINGS).calls[0]
    c = got.calls[0]
    assert c.pik3ca.any_mutant == truth.pik3ca.any_mutant is True
    assert c.her2.call == truth.her2.call and c.her2.ratio == pytest.approx(truth.her2.ratio, rel=1e-9)
    assert "automatic" in got.provenance.droplets


def test_droplets_without_names_are_classified_but_not_called():
    files = plate_droplet_files(sample_wells("P1")[:2], "Run1")
    plate = read_plate(files)
    assert [r["sample"] for r in plate_summary(classify_plate(plate, DropletThresholds()))] == ["A01", "B01"]
    with pytest.raises(InputError, match="no sample or target names"):
        assess_droplets(files, DEFAULT_SETTINGS, DropletThresholds())


def test_a_small_well_is_read_and_then_fails_the_droplet_minimum():
    wells = sample_wells("P1", n=2500)
    got, _ = assess_droplets(plate_droplet_files(wells, "Run1") + [(qs17(wells), "names.csv")], DEFAULT_SETTINGS,
                             DropletThresholds())
    text = json.dumps(got.calls[0].to_dict(), default=str)
    assert "2,500" in text or "2500" in text


def test_droplet_results_are_not_saved_to_the_database_by_mistake(tmp_path):
    from tdm1core.storage.store import Store
    from tdm1core.app.workflows import patient_result, save_result

    wells = sample_wells("P1")
    got, _ = assess_droplets(plate_droplet_files(wells, "Run1") + [(qs17(wells), "names.csv")], DEFAULT_SETTINGS,
                             DropletThresholds())
    store = Store(f"sqlite:///{tmp_path / 'd.sqlite'}")
    before = store.status()
    with pytest.raises(InputError, match="cannot be saved to the database yet"):
        save_result(store, got, patient_result(got.calls[0], "pos", "neg"))
    assert store.status() == before


# ------------------------------------------------------------------ command line

def test_droplets_command_prints_one_object_per_well(tmp_path, capsys):
    from tdm1core.app.cli import main

    wells = sample_wells("P1", e545k_mut=5)
    for data, name in plate_droplet_files(wells, "Run1") + [(qs17(wells), "names.csv")]:
        (tmp_path / name).write_bytes(data)
    assert main(["droplets", str(tmp_path), "--threshold", "auto", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["well"] for r in out] == ["A01", "B01", "C01", "D01"]
    r = out[2]
    assert set(r) >= {"well", "sample", "targets", "droplets", "threshold", "clusters", "positives", "rain", "warnings"}
    assert r["threshold"]["method"] == "auto" and r["positives"]["PIK3CA E545K MUT"] == 5 and r["sample"] == "P1"
    assert sum(r["clusters"].values()) == r["droplets"] == 15000
    assert main(["call", str(tmp_path), "--threshold", "auto", "--er", "pos", "--pr", "neg", "--json"]) == 0
    calls = json.loads(capsys.readouterr().out)
    assert calls[0]["provenance"]["droplet_classification"].startswith("automatic")
    behind = {(d["well"], d["channel"]): d for d in calls[0]["droplets"]}
    assert behind[("C01", "Ch1")]["positives"] == 5 and behind[("C01", "Ch1")]["thresholds"][0] > 1000
    assert behind[("C01", "Ch1")]["thresholds"] == [r["threshold"]["values"]["Ch1"]] or len(behind[("C01", "Ch1")]["thresholds"]) == 2


QXM = SHARED / "qxmanager_daattali_quant"


@pytest.mark.skipif(not QXM.is_dir(), reason="the shared QX Manager droplet file is not on this machine")
def test_the_shared_qx_manager_droplet_file_reads_with_its_results_export_names():
    """The repository author's trimmed QX Manager file (4 droplets): layout, target columns matched to channels
    through quant.csv's targets and dyes, and the instrument classes as written."""
    plate = read_plate([((QXM / "quant_B01_Amplitude.csv").read_bytes(), "quant_B01_Amplitude.csv"),
                        ((QXM / "quant.csv").read_bytes(), "quant.csv")])
    assert plate.wells[0].format == FORMAT_QXM_DROPLETS and plate.wells[0].droplets == 4
    summary = plate_summary(classify_plate(plate, DropletThresholds()))[0]
    assert summary["sample"] == "SMN2 Control 2 copies" and summary["targets"] == {"Ch1": "1", "Ch2": "2"}
    rows = list(csv.reader(io.StringIO((QXM / "quant_B01_Amplitude.csv").read_text())))[5:]
    assert summary["positives"] == {"1": sum(r[2] == "1" for r in rows), "2": sum(r[3] == "1" for r in rows)}
    assert any("no droplet file" in w for w in plate.warnings)  # quant.csv has 6 wells, the folder one file
