"""The command line: JSON keys, clear errors, no traceback."""
import json
import subprocess
import sys

import pytest

from tdm1core.demo import demo_export_path

from conftest import ROOT


def run(*args, input_bytes=None):
    return subprocess.run([sys.executable, "-m", "tdm1core", *args], cwd=ROOT, capture_output=True, input=input_bytes)


def test_call_json_has_the_documented_keys_and_the_flag():
    p = run("call", str(demo_export_path()), "--sample", "P06", "--er", "pos", "--pr", "neg", "--json")
    assert p.returncode == 0, p.stderr
    (obj,) = json.loads(p.stdout)
    assert obj["sample"] == "P06"
    for key in ("ratio", "ci_low", "ci_high", "call", "borderline", "reference_copies"):
        assert key in obj["her2"]
    for hs in ("E542K", "E545K", "H1047R"):
        assert {"mutant_copies", "wildtype_copies", "call"} <= set(obj["pik3ca"][hs])
    assert obj["pik3ca"]["any_mutant"] is True
    assert obj["flag"]["status"] == "at risk" and obj["flag"]["reasons"]
    assert obj["settings"]["her2_ratio_cutoff"] == 1.25
    assert isinstance(obj["warnings"], list)
    assert obj["her2"]["ci_low"] <= obj["her2"]["ratio"] <= obj["her2"]["ci_high"]


def test_call_without_sample_prints_every_sample():
    p = run("call", str(demo_export_path()), "--json")
    samples = [o["sample"] for o in json.loads(p.stdout)]
    assert samples == [f"P{i:02d}" for i in range(1, 17)]
    assert all(o["flag"]["status"] == "incomplete" for o in json.loads(p.stdout))  # ER/PR not given


def test_wells_json_works_for_any_assay(shared_ddpcr):
    p = run("wells", str(shared_ddpcr / "quantasoft174_nipd/Test24.csv"), "--json")
    rows = json.loads(p.stdout)
    assert len(rows) == 34
    assert {"well", "sample", "target", "positives", "negatives", "accepted_droplets", "concentration",
            "exported_concentration", "copies_per_20ul", "warnings"} <= set(rows[0])


@pytest.mark.parametrize("content", [b"", b"hello,world\n1,2\n", bytes(range(256))])
def test_bad_input_exits_non_zero_with_a_message_and_no_traceback(tmp_path, content):
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    p = run("call", str(f))
    assert p.returncode == 2
    assert b"Traceback" not in p.stderr and b"bad.csv" in p.stderr


def test_missing_sample_is_a_clear_error():
    p = run("call", str(demo_export_path()), "--sample", "P99")
    assert p.returncode == 2 and b"P99" in p.stderr and b"P01" in p.stderr


def test_demo_write(tmp_path):
    p = run("demo", "--write", str(tmp_path))
    assert p.returncode == 0
    assert (tmp_path / "demo_ddpcr_quantasoft.csv").exists()


def test_core_never_imports_streamlit():
    code = ("import sys, tdm1core, tdm1core.app.cli, tdm1core.calling.calls, tdm1core.clinical.risk, tdm1core.stats.cohort, tdm1core.stats, "
            "tdm1core.plotting.figures, tdm1core.reporting.report, tdm1core.reporting.export, tdm1core.storage.store; assert 'streamlit' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_cohort_json_table4(tmp_path):
    p = run("cohort", "--demo", "--json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    hr = [r for r in obj["table4"] if r["characteristic"] == "Hormone receptor status"]
    assert {"characteristic", "group", "n", "resistant", "p_value"} <= set(hr[0])
    assert round(hr[0]["p_value"], 3) == 0.438
    medians = {g["group"]: g["median"] for g in obj["km"]["groups"]}
    assert medians == {"at risk": 56.6, "not flagged": 318.0}


def test_km_on_any_csv_matches_r(tmp_path):
    from conftest import ROOT as root

    p = run("km", str(root / "tests/fixtures/r/aml.csv"), "--time", "time", "--event", "status", "--group", "group",
            "--ci", "log", "--at", "10,20", "--json")
    obj = json.loads(p.stdout)
    g = {x["group"]: x for x in obj["groups"]}
    assert g["Maintained"]["median"] == 31 and g["Maintained"]["median_ci_low"] == 18 and g["Maintained"]["median_ci_high"] is None
    assert set(g["Maintained"]["survival_at"]["10"]) == {"survival", "std_error", "n_at_risk", "ci_low", "ci_high"}
    assert obj["logrank"]["df"] == 1 and obj["logrank"]["p"] == pytest.approx(0.0653393220405049, rel=1e-6)


def test_km_bad_column_is_a_clear_error(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("t,e\n1,x\n")
    p = run("km", str(f), "--time", "t", "--event", "e")
    assert p.returncode == 2 and b"row 2" in p.stderr and b"'e'" in p.stderr and b"Traceback" not in p.stderr


def test_wells_json_stays_an_array_and_with_meta_carries_the_file_warnings(tmp_path, capsys):
    from builders import qxm_reduced
    from tdm1core.app.cli import main

    path = tmp_path / "aav.csv"
    path.write_bytes(qxm_reduced([("H01", "S1", "HER2", "FAM", "Unknown", 1500, 17000, 0.75),
                                  ("H01", "S1", "EFTUD2", "HEX", "Reference", 1000, 17000, 0.75)]))
    assert main(["wells", str(path), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert isinstance(plain, list) and plain[0]["well"] == "H01"
    assert plain[0]["warnings"][0].startswith("Exported concentrations imply 0.750 nL droplets in H01")
    assert main(["wells", str(path), "--json", "--with-meta", "--alias", "HbS=HER2"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["wells"] == plain
    assert meta["meta"]["format"] == "QX Manager (reduced column set)" and meta["meta"]["droplet_volume_nl"] == 0.85
    assert any("per-well droplet volumes" in w for w in meta["meta"]["warnings"])
    assert "HER2 (FAM) → HER2 [built-in]" in meta["meta"]["target_map"]
    assert meta["meta"]["settings"]["target_aliases"] == {"HbS": "HER2"}


def test_call_json_stamps_the_target_map_in_force(tmp_path, capsys):
    from builders import qs17, sample_wells
    from tdm1core.app.cli import main

    wells = sample_wells("S1")
    wells[0] = wells[0].__class__(**{**wells[0].__dict__, "ch1_target": "HbS"})
    path = tmp_path / "hbs.csv"
    path.write_bytes(qs17(wells))
    assert main(["call", str(path), "--alias", "HbS=HER2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)[0]
    assert "HbS (Ch1) → HER2 [lab alias]" in out["provenance"]["target_map"]
    assert out["settings"]["target_aliases"] == {"HbS": "HER2"}


@pytest.mark.parametrize("body,words", [
    ("time,event\n10,1\nabc,0\n", "row 3"),
    ("time,event\n10,1\n-4,0\n", "cannot be negative"),
    ("time,event\n10,1\n12,maybe\n", "1/0 or true/false"),
    ("time,event\n10,1\n12,0,extra\n", "fields"),
])
def test_km_refuses_a_bad_table_by_row_and_column(tmp_path, body, words):
    path = tmp_path / "t.csv"
    path.write_text(body)
    p = run("km", str(path), "--time", "time", "--event", "event")
    assert p.returncode == 2 and words in p.stderr.decode() and b"Traceback" not in p.stderr, p.stderr


def test_a_file_mode_cohort_reads_and_calls_each_export_once(monkeypatch, capsys):
    """Issue 24: `cohort --demo` (and a table with --ddpcr) calls each export once, for the table and the statistics."""
    import tdm1core.calling.calls as calls_module
    import tdm1core.reading.exports as ddpcr_module
    from tdm1core.app.cli import main

    counts = {"read": 0, "call": 0}
    real_read, real_call = ddpcr_module.read_export, calls_module.call_export

    def read(*a, **k):
        counts["read"] += 1
        return real_read(*a, **k)

    def call(*a, **k):
        counts["call"] += 1
        return real_call(*a, **k)

    monkeypatch.setattr(ddpcr_module, "read_export", read)
    monkeypatch.setattr(calls_module, "call_export", call)
    assert main(["cohort", "--demo", "--json"]) == 0
    capsys.readouterr()
    assert counts == {"read": 1, "call": 1}


def _reference_json(obj):
    """What the standard library writes, with NaN and infinities as null and numpy numbers as numbers: the contract
    the command line's JSON had before orjson encoded it (computed here, not by the code under test)."""
    import math

    import numpy as np

    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _reference_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_reference_json(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def _values():
    import datetime as dt

    import numpy as np
    from hypothesis import strategies as st

    scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**80, 2**80), st.floats(allow_nan=True, allow_infinity=True),
                       st.text(max_size=8), st.dates().map(lambda d: d), st.datetimes(timezones=st.just(dt.timezone.utc)),
                       st.floats(allow_nan=True).map(np.float64), st.integers(-2**40, 2**40).map(np.int64),
                       st.booleans().map(np.bool_))
    keys = st.one_of(st.text(max_size=5), st.integers(0, 9))
    return st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                                        st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def test_the_json_output_is_the_standard_librarys_for_any_value(capsys, monkeypatch):
    from hypothesis import given, settings

    from tdm1core.app.cli import _dump

    @settings(max_examples=200, deadline=None)
    @given(_values(), st_bool())
    def check(value, tty):
        monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
        _dump(value)
        text = capsys.readouterr().out
        assert json.loads(text) == _reference_json(value)
        assert ("\n  " in text) == (tty and _nested_non_empty(value))  # indented on a terminal only

    check()


def st_bool():
    from hypothesis import strategies as st

    return st.booleans()


def _nested_non_empty(value) -> bool:
    return isinstance(value, (list, tuple, dict)) and len(value) > 0


def test_an_internal_error_is_one_line_not_a_traceback(monkeypatch, capsys):
    """A defect (not bad input) still ends in one line naming its kind, exit 3; TDM1_DEBUG=1 lets it through."""
    import tdm1core.app.cli as cli

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_cohort", broken)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with(parser(), broken))
    assert cli.main(["cohort", "--demo"]) == 3
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError)" in err and "Traceback" not in err
    monkeypatch.setenv("TDM1_DEBUG", "1")
    import pytest

    with pytest.raises(ZeroDivisionError):
        cli.main(["cohort", "--demo"])


def _with(parser, func):
    for action in parser._subparsers._group_actions:
        action.choices["cohort"].set_defaults(func=func)
    return parser
