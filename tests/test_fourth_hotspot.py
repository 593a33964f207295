"""Acceptance for the one panel definition: a fourth PIK3CA hotspot is one entry in ``tdm1core/panel.py``.

A copy of the package with just that entry added (nothing else changed) calls the new hotspot, stores it, derives its
limit of blank, prints it in the patient PDF, exports it in the CSV table and in the released FHIR bundle. The
expected copies are worked out here from the Poisson formula, not read back from the code."""
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRY = '    Hotspot("C420R", "p.Cys420Arg", "c.1258T>C"),\n'

SCRIPT = r'''
import json, sys
from tdm1core.demo.writer import DuplexWell, quantasoft_csv
from tdm1core.panel import HOTSPOTS
from tdm1core.settings import Settings
from tdm1core.storage.access import User
import tdm1core.app.workflows as wf

out = {"hotspots": list(HOTSPOTS)}
S = Settings()
rows = "ABCDEFGH"

def sample(name, col, c420r):
    wells = [DuplexWell(f"A{col:02d}", name, "HER2", "EFTUD2", 900, 1000, 15000)]
    for i, h in enumerate(HOTSPOTS, start=1):
        wells.append(DuplexWell(f"{rows[i]}{col:02d}", name, f"PIK3CA {h} MUT", f"PIK3CA {h} WT",
                                c420r if h == "C420R" else 0, 600, 15000))
    return wells

data = quantasoft_csv(sample("S1", 1, 40)).encode()
who = User(subject="rv", email="rv@x.example", name="Rv", roles=frozenset({"reviewer", "clinician", "researcher",
           "admin"}), mode="signed-in", session="s", roles_source="claim")
a = wf.assess_upload(data, "four.csv", S, who)
hs = {h.hotspot: h for h in a.calls[0].pik3ca.hotspots}
out["called"] = [hs["C420R"].call, hs["C420R"].mutant_copies, a.calls[0].pik3ca.any_mutant]

store = wf.open_store(sys.argv[1], seed=False)
wf.import_exports(store, [(data, "four.csv")], S, who)
table = store.calls_table(S.calls_fingerprint())
out["stored"] = [float(table.loc[0, "C420R MUT"]), float(table.loc[0, "C420R WT"])]

blanks = quantasoft_csv([w for i in range(10) for w in sample(f"B{i}", i + 1, 1 if i == 0 else 0)]).encode()
v = wf.validate_limits([(blanks, "blanks.csv")], S, actor=who)
out["limited"] = {l.hotspot: l.nonparametric for l in v.lob}

result = wf.patient_result(a.calls[0], "positive", "negative", "PX-4", "2026-11-20", actor=who)
open(sys.argv[2], "wb").write(wf.patient_report_pdf(None, result, a.provenance, actor=who))

from tdm1core.reporting.export import to_csv_bytes
from tdm1core.calling.calls import calls_table
out["csv_header"] = to_csv_bytes(calls_table(a.calls)).decode("utf-8-sig").splitlines()[0]

released = wf.release_result(store, result, a.provenance, who=who, reviewed=wf.release_digest(result, a.provenance))
from tdm1core.reporting.fhir import fhir_bundle
out["fhir"] = json.dumps(fhir_bundle(released, store.released_pdf(released.stamp.report_id, 1)))
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def four_hotspot_package(tmp_path_factory):
    """A copy of tdm1core whose panel has one more Hotspot entry, and nothing else changed."""
    where = tmp_path_factory.mktemp("panel4")
    shutil.copytree(ROOT / "tdm1core", where / "tdm1core", ignore=shutil.ignore_patterns("__pycache__"))
    panel = where / "tdm1core" / "panel.py"
    text = panel.read_text()
    anchor = '    Hotspot("H1047R", "p.His1047Arg", "c.3140A>G"),\n'
    assert anchor in text
    panel.write_text(text.replace(anchor, anchor + ENTRY))
    return where


def test_a_fourth_hotspot_is_one_entry_in_the_panel(four_hotspot_package, tmp_path):
    pdf = tmp_path / "report.pdf"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(four_hotspot_package), "HOME": str(tmp_path),
           "TDM1_DB_PATH": str(tmp_path / "db.sqlite"), "MPLCONFIGDIR": str(tmp_path)}
    p = subprocess.run([sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'four.sqlite'}", str(pdf)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.splitlines()[-1])
    assert out["hotspots"] == ["E542K", "E545K", "H1047R", "C420R"]
    copies = 20 * -math.log((15000 - 40) / 15000) / 0.85e-3  # 40 positive droplets of 15,000 at 0.85 nL
    call, mutant, any_mutant = out["called"]
    assert call == "positive" and mutant == pytest.approx(copies, rel=1e-9) and any_mutant is True
    assert out["stored"][0] == pytest.approx(copies, rel=1e-9)
    assert set(out["limited"]) == {"E542K", "E545K", "H1047R", "C420R"} and out["limited"]["C420R"] > 0
    assert "C420R MUT" in out["csv_header"] and "C420R WT" in out["csv_header"]
    assert "p.Cys420Arg" in out["fhir"]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "C420R" in text


def test_the_copy_is_the_only_change(four_hotspot_package):
    """The fixture differs from the package by the one entry (so the test above proves what it says)."""
    changed = [p.relative_to(four_hotspot_package) for p in (four_hotspot_package / "tdm1core").rglob("*.py")
               if p.read_bytes() != (ROOT / p.relative_to(four_hotspot_package)).read_bytes()]
    assert changed == [Path("tdm1core/panel.py")]
