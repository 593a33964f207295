"""The cohort's statistics stored once per state of the data (what ``cohort --db URL --json`` answers with):
equal to a fresh computation from the same inputs, read back without recomputing, never stale after any write,
never trusted when damaged."""
import json
import sys
from dataclasses import replace

import pandas as pd
import pytest
import sqlalchemy as sa

import tdm1core.stats as stats_module
from builders import qs17, sample_wells
from compare import assert_same_values
from spies import count_calls
from tdm1core.calling.calls import call_export
from tdm1core.stats.cohort import load_cohort
from tdm1core.reading.exports import read_export
from tdm1core.demo import DEMO_DIR, demo_export_path
from tdm1core.settings import DEFAULT_SETTINGS
from tdm1core.app.workflows import cohort_statistics_json, import_exports, import_patients, open_store

DEMO_EXPORT = demo_export_path().read_bytes()
DEMO_PATIENTS = (DEMO_DIR / "demo_patients.csv").read_bytes()


def _fresh(patients: bytes, exports: list[bytes], settings=DEFAULT_SETTINGS, group="flag") -> dict:
    """The statistics computed in memory from the same inputs, without any store: the independent answer."""
    read = [read_export(data, f"e{i}.csv", settings) for i, data in enumerate(exports)]
    cohort = load_cohort(patients, "x", read, settings)
    calls = [c for e in read for c in call_export(e, settings)]
    d = json.loads(json.dumps(stats_module.analyse_cohort(cohort, settings, group, calls=calls).to_dict(), default=str))
    d["n"] = cohort.n
    return d


def _answer(store, settings=DEFAULT_SETTINGS, group="flag") -> dict:
    d = json.loads(cohort_statistics_json(store, settings, group))
    d.pop("source"), d.pop("notes")
    return d


def _count_analyses(monkeypatch) -> list:
    return count_calls(monkeypatch, stats_module, "analyse_cohort")


def test_the_stored_answer_equals_a_fresh_computation_and_is_read_back(url, monkeypatch):
    store = open_store(url)  # the synthetic demo
    analyses = _count_analyses(monkeypatch)
    first = cohort_statistics_json(store, DEFAULT_SETTINGS)
    assert analyses == [1]
    assert cohort_statistics_json(store, DEFAULT_SETTINGS) == first and analyses == [1]  # read back, not recomputed
    d = json.loads(first)
    assert d["source"] == "database: built-in synthetic demo" and d["n"] == 34
    assert_same_values(_answer(store), _fresh(DEMO_PATIENTS, [DEMO_EXPORT]))


def test_each_setting_and_grouping_has_its_own_answer(url):
    store = open_store(url)
    strict = replace(DEFAULT_SETTINGS, her2_ratio_cutoff=1.6, km_ci_method="plain")
    assert_same_values(_answer(store, strict), _fresh(DEMO_PATIENTS, [DEMO_EXPORT], strict))
    assert_same_values(_answer(store, group="er_status"), _fresh(DEMO_PATIENTS, [DEMO_EXPORT], group="er_status"))
    assert_same_values(_answer(store), _fresh(DEMO_PATIENTS, [DEMO_EXPORT]))
    assert _answer(store, strict) != _answer(store)


def _edited_patients() -> bytes:
    df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
    df.loc[df["patient_id"] == df["patient_id"].iloc[0], "best_response"] = "PD"
    df.loc[1, "ctdna_sample_id"] = "NEW1"
    return df.to_csv(index=False).encode()


NEW_EXPORT = qs17(sample_wells("NEW1", her2=900, eftud2=1000, e545k_mut=12))


@pytest.mark.parametrize("change", ["patients", "export", "delete export", "delete patient", "remove demo"])
def test_no_write_leaves_a_stale_answer(url, change):
    store = open_store(url)
    before = _answer(store)
    patients, exports = DEMO_PATIENTS, [DEMO_EXPORT]
    if change == "patients":
        patients = _edited_patients()
        import_patients(store, patients, "v2.csv", DEFAULT_SETTINGS)
    elif change == "export":
        import_patients(store, _edited_patients(), "v2.csv", DEFAULT_SETTINGS)
        _answer(store)  # an answer stored for the new patients, before the export arrives
        import_exports(store, [(NEW_EXPORT, "new.csv")], DEFAULT_SETTINGS)
        patients, exports = _edited_patients(), [DEMO_EXPORT, NEW_EXPORT]
    elif change == "delete export":
        fid = int(store.files_table().query("kind == 'ddpcr'")["id"].iloc[0])
        assert store.delete_file(fid)
        exports = []
    elif change == "delete patient":
        assert store.delete_patient("D01")
        df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
        patients = df[df["patient_id"] != "D01"].to_csv(index=False).encode()
    else:
        import_patients(store, _edited_patients(), "mine.csv", DEFAULT_SETTINGS)
        store.remove_demo()
        df = pd.read_csv(DEMO_DIR / "demo_patients.csv", dtype=str, keep_default_na=False)
        edited = pd.read_csv(pd.io.common.BytesIO(_edited_patients()), dtype=str, keep_default_na=False)
        kept = edited[(edited != df).any(axis=1)]  # only the rows the user's import changed stay
        patients, exports = kept.to_csv(index=False).encode(), []
    after = _answer(store)
    assert after != before
    assert_same_values(after, _fresh(patients, exports))


def test_a_damaged_stored_answer_is_computed_again(url, monkeypatch):
    store = open_store(url)
    good = cohort_statistics_json(store, DEFAULT_SETTINGS)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE cohort_snapshots SET data = :d WHERE revision LIKE 'statistics:%'"), {"d": b"\x00"})
    analyses = _count_analyses(monkeypatch)
    assert cohort_statistics_json(store, DEFAULT_SETTINGS) == good and analyses == [1]


def test_stored_answers_are_bounded_and_keep_the_patient_snapshot(url):
    store = open_store(url)
    for cutoff in (1.1, 1.2, 1.3, 1.4, 1.5, 1.6):
        cohort_statistics_json(store, replace(DEFAULT_SETTINGS, her2_ratio_cutoff=cutoff))
    with store.engine.connect() as conn:
        keys = [r[0] for r in conn.exec_driver_sql("SELECT revision FROM cohort_snapshots")]
    answers = {k.split("/")[0] for k in keys if k.startswith("statistics:")}
    assert len(answers) == 4  # the newest four answers, each with all its parts
    assert all(sum(k.startswith(a + "/") for k in keys) == 8 for a in answers)
    assert sum(not k.startswith("statistics:") for k in keys) == 1  # the validated patient table is still there


def test_an_empty_database_has_no_answer(url):
    from tdm1core.storage.store import Store

    assert cohort_statistics_json(Store(url), DEFAULT_SETTINGS) is None


def test_the_command_line_import_leaves_an_answer_that_cohort_reads_without_computing(tmp_path, monkeypatch, capsys):
    from tdm1core.app.cli import main

    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    (tmp_path / "patients.csv").write_bytes(DEMO_PATIENTS)
    (tmp_path / "export.csv").write_bytes(DEMO_EXPORT)
    assert main(["import", "patients", str(tmp_path / "patients.csv"), "--db", db]) == 0
    assert main(["import", "ddpcr", str(tmp_path / "export.csv"), "--db", db]) == 0
    capsys.readouterr()
    analyses = _count_analyses(monkeypatch)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert main(["cohort", "--db", db, "--json"]) == 0
    assert analyses == []  # answered from what the import stored
    d = json.loads(capsys.readouterr().out)
    d.pop("source"), d.pop("notes")
    assert_same_values(d, _fresh(DEMO_PATIENTS, [DEMO_EXPORT]))


@pytest.mark.parametrize("section", ["table1", "table3", "performance", "km"])
def test_one_section_is_read_alone_and_equals_the_whole_answers_part(url, section, monkeypatch):
    """Issue 28: a part of the answer is stored and read on its own (Table 3 has a row per patient; the performance
    a few hundred bytes), equal to that part of the whole answer, with the settings stamp and the cohort's size."""
    store = open_store(url)
    whole = json.loads(cohort_statistics_json(store, DEFAULT_SETTINGS))
    read = []
    real = type(store).cohort_snapshots
    monkeypatch.setattr(type(store), "cohort_snapshots", lambda self, keys: read.append(list(keys)) or real(self, keys))
    analyses = _count_analyses(monkeypatch)
    part = json.loads(cohort_statistics_json(store, DEFAULT_SETTINGS, section=section))
    assert analyses == [] and len(read) == 1 and len(read[0]) == 2  # two rows: the part and the settings stamp
    assert set(part) == {section, "settings", "source", "n", "notes"}
    assert part[section] == whole[section] and part["settings"] == whole["settings"] and part["n"] == 34


def test_a_section_first_computes_the_whole_answer_once(url, monkeypatch):
    store = open_store(url)
    analyses = _count_analyses(monkeypatch)
    part = json.loads(cohort_statistics_json(store, DEFAULT_SETTINGS, section="table2"))
    whole = json.loads(cohort_statistics_json(store, DEFAULT_SETTINGS))
    assert analyses == [1] and part["table2"] == whole["table2"]
    assert_same_values(_answer(store), _fresh(DEMO_PATIENTS, [DEMO_EXPORT]))


def test_a_damaged_section_makes_the_answer_computed_again(url, monkeypatch):
    store = open_store(url)
    good = cohort_statistics_json(store, DEFAULT_SETTINGS, section="km")
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE cohort_snapshots SET data = :d WHERE revision LIKE 'statistics:%/km'"), {"d": b"x"})
    analyses = _count_analyses(monkeypatch)
    assert cohort_statistics_json(store, DEFAULT_SETTINGS, section="km") == good and analyses == [1]


def test_an_unknown_section_is_refused_with_the_known_ones(url):
    from tdm1core.errors import InputError

    with pytest.raises(InputError, match="table3"):
        cohort_statistics_json(open_store(url), DEFAULT_SETTINGS, section="table9")


def test_the_command_line_prints_a_section(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TDM1_USER", "me")
    from tdm1core.app.cli import main

    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    open_store(db)  # the synthetic demo
    assert main(["cohort", "--db", db, "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert main(["cohort", "--db", db, "--json", "--section", "table4"]) == 0
    assert json.loads(capsys.readouterr().out)["table4"] == whole["table4"]
    assert main(["cohort", "--demo", "--json", "--section", "table4"]) == 0  # from files: the same part
    assert json.loads(capsys.readouterr().out)["table4"] == whole["table4"]
    assert main(["cohort", "--db", db, "--section", "table4"]) != 0
    assert "--json" in capsys.readouterr().err
