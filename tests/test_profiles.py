"""Each sample's limits (genome equivalents, detectable VAF, caveats) in the calls, the JSON and the PDF; the lab's
cut-off profiles from blank wells: derived, stored as versions, chosen, and stamped on every output."""
from __future__ import annotations

import io
import json
import math

import pytest
from pypdf import PdfReader

from builders import conc, qs17, sample_wells
from tdm1core.calling.calls import call_export
from tdm1core.reading.exports import read_export
from tdm1core.calling.profiles import STUDY, apply_profile, validate
from tdm1core.clinical.risk import PatientResult
from tdm1core.settings import STUDY_PROFILE, Settings
import tdm1core.app.workflows as wf
def _calls(wells, settings=Settings(), name="x.csv"):
    return call_export(read_export(qs17(wells), name, settings), settings)


def _pdf_text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\n", " ")


def test_a_not_detected_says_what_it_could_have_seen():
    # 600 wild-type positives in 15,000 droplets, no mutant: GE = 20 × conc(600, 15000) copies per 20 µL
    c = _calls(sample_wells("S1", wt=600))[0]
    h = c.pik3ca.hotspot("E542K")
    ge = 20 * conc(600, 15000)
    assert h.genome_equivalents == pytest.approx(ge, rel=1e-9)
    assert h.detectable_vaf_95 == pytest.approx(6.295794 / ge, rel=1e-5)
    assert h.result_text == f"not detected (95 % detection at ≥ {100 * 6.295794 / ge:.2g} % VAF)"
    assert "negative" not in h.result_text
    d = c.to_dict()
    assert d["pik3ca"]["E542K"]["genome_equivalents"] == pytest.approx(ge)
    assert d["pik3ca"]["E542K"]["detectable_vaf_95"] == pytest.approx(6.295794 / ge, rel=1e-5)
    assert d["limit_profile"] == STUDY_PROFILE


def test_little_input_dna_warns_that_sensitivity_is_limited():
    small = _calls(sample_wells("S1", wt=60, eftud2=1500))[0]  # ~70 GE: a mutation at ~9 % VAF could be missed
    assert any(c.startswith("Input DNA limits sensitivity") for c in small.caveats)
    big = _calls(sample_wells("S1", wt=3000, eftud2=1500))[0]
    assert not any(c.startswith("Input DNA limits sensitivity") for c in big.caveats)
    stricter = Settings(max_detectable_vaf=0.001)
    assert any(c.startswith("Input DNA limits sensitivity") for c in _calls(sample_wells("S1", wt=3000), stricter)[0].caveats)


def test_caveats_on_tumour_content_and_the_her2_call():
    not_amplified = _calls(sample_wells("S1", her2=900, eftud2=1000))[0]
    assert not_amplified.her2.call == "not amplified"
    assert any("copy-number gain" in c for c in not_amplified.caveats)
    assert any("Tumour DNA content is unknown" in c for c in not_amplified.caveats)
    flagged = PatientResult.from_calls(not_amplified, "positive", "negative")
    assert any("copy-number gain" in r for r in flagged.flag.reasons)  # the flag's reasons carry the caveat
    mutant = _calls(sample_wells("S2", her2=2600, eftud2=1000, e545k_mut=40, wt=600))[0]
    af = mutant.pik3ca.hotspot("E545K").allele_fraction
    assert af == pytest.approx(conc(40, 15000) / (conc(40, 15000) + conc(600, 15000)))
    assert any(f"at least {100 * af:.2g} %" in c for c in mutant.caveats)
    assert not any("copy-number gain" in c for c in mutant.caveats)  # amplified: no such caveat


def test_a_hand_changed_cut_off_is_never_stamped_with_a_profile_name():
    assert Settings().cutoff_profile == STUDY_PROFILE
    edited = Settings(pik3ca_mutant_cutoff_copies=2)
    assert edited.cutoff_profile == f"custom (edited from {STUDY_PROFILE})" and edited.profile_cutoffs is None
    assert "cut-off profile custom" in edited.describe()
    lab = apply_profile(Settings(), STUDY.__class__("Lab X PIK3CA", 2, 1.25, 2.0, 100.0))
    assert lab.cutoff_profile == "Lab X PIK3CA v2" and lab.pik3ca_mutant_cutoff_copies == 2.0
    from dataclasses import replace

    assert replace(lab, droplet_volume_nl=0.8).cutoff_profile == "Lab X PIK3CA v2"
    assert replace(lab, pik3ca_mutant_cutoff_copies=4).cutoff_profile.startswith("custom (edited from Lab X PIK3CA v2")
    assert Settings.from_dict(lab.to_dict()) == lab
    assert Settings.from_dict({"her2_ratio_cutoff": 1.3}).cutoff_profile.startswith("custom")  # stored before profiles


def _blanks(n_samples: int, mutant_positives=None) -> bytes:
    wells = []
    for i in range(n_samples):
        w = sample_wells(f"B{i}", her2=1000 + 5 * (i % 4), eftud2=1000, well0=4 * i)
        if mutant_positives and i in mutant_positives:
            from dataclasses import replace

            w = [replace(x, ch1_positives=mutant_positives[i]) if "H1047R" in x.ch1_target else x for x in w]
        wells += w
    return qs17(wells)


def test_validation_from_all_zero_blanks_gives_the_study_cut_off():
    v = validate([(_blanks(10), "blanks.csv")], Settings())
    assert [l.hotspot for l in v.lob] == ["E542K", "E545K", "H1047R"]
    for lob, lod in zip(v.lob, v.lod):
        assert lob.n == 10 and lob.all_zero and lob.nonparametric == 0
        assert lob.upper_rate_per_droplet == pytest.approx(-math.log(0.05) / (10 * 15000), rel=1e-6)
        assert lod.lod == pytest.approx(-math.log(0.05), abs=1e-6)
    assert v.proposed_pik3ca_cutoff == 3.0  # ⌈2.996⌉: what the study chose from its zero-background volunteers
    assert v.her2 is not None and v.her2.n == 10 and v.her2.p99 < 1.25
    assert any("at least 60" in n for n in v.notes)


def test_validation_with_positive_blanks_raises_the_cut_off():
    v = validate([(_blanks(6, {1: 2, 4: 3}), "blanks.csv")], Settings())
    h = next(l for l in v.lob if l.hotspot == "H1047R")
    expected = sorted([0, 20 * conc(2, 15000), 0, 0, 20 * conc(3, 15000), 0])
    assert h.rank_capped and h.nonparametric == pytest.approx(expected[-1])  # N = 6: the largest blank
    assert h.positive_droplets == 5
    # 3 positive droplets in 15,000: λ = -ln(1 - 3/15000) = 2.0002e-4 per 0.85 nL droplet, 0.2353 copies/µL, 4.706
    # copies per 20 µL well; the LoD is the Poisson limit of ⌊4.706⌋ + 1 = 5 copies, Gamma(5, 1)'s 95th percentile
    # (9.154), and the proposed cut-off that, rounded up
    from scipy import stats

    assert expected[-1] == pytest.approx(20 * 2.00020e-4 / 0.85e-3, rel=1e-5)
    lod = next(d for d in v.lod if d.hotspot == "H1047R")
    assert lod.lod == pytest.approx(stats.gamma.ppf(0.95, 5), abs=1e-8)
    assert v.proposed_pik3ca_cutoff == math.ceil(stats.gamma.ppf(0.95, 5)) == 10


def test_a_profile_round_trips_through_the_database_and_is_stamped_on_the_pdf(url):
    store = wf.open_store(url)
    v = wf.validate_limits([(_blanks(10), "blanks.csv")], Settings())
    first = wf.save_profile(store, v, "Lab X PIK3CA", "lab admin")
    second = wf.save_profile(store, v, "Lab X PIK3CA", "lab admin")
    assert (first.version, second.version) == (1, 2) and second.label == "Lab X PIK3CA v2"
    stored = {p.label: p for p in wf.cutoff_profiles(store)}
    assert set(stored) >= {STUDY_PROFILE, "Lab X PIK3CA v1", "Lab X PIK3CA v2"}
    again = stored["Lab X PIK3CA v1"]
    assert again == first and again.evidence == (("blanks.csv", first.evidence[0][1]),)
    assert again.computation["lob"][0]["all_zero"] is True
    log = store.audit()
    assert list(log[log["action"] == "cut-off profile"]["entity"]) == ["profile Lab X PIK3CA v2", "profile Lab X PIK3CA v1"]
    with pytest.raises(Exception, match="built-in"):
        wf.save_profile(store, v, STUDY.name, "lab admin")
    settings = apply_profile(Settings(), again)
    calls = _calls(sample_wells("P1", her2=900), settings)[0]
    assert calls.to_dict()["limit_profile"] == "Lab X PIK3CA v1"
    result = PatientResult.from_calls(calls, "positive", "unknown", "PX1")
    from tdm1core.reporting.report import Provenance, patient_report

    text = _pdf_text(patient_report(result, Provenance("x.csv", "0" * 64, "test")))
    assert "Limits of this result" in text and "Cut-off profile: Lab X PIK3CA v1" in text
    assert "genome equivalents" in text and "not detected (95 % detection at" in text
    assert "copy-number gain" in text


def test_the_limits_command(tmp_path, capsys):
    from tdm1core.app.cli import main

    path = tmp_path / "blanks.csv"
    path.write_bytes(_blanks(10))
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["limits", str(path), "--json", "--save", "Lab Y", "--db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["proposed_pik3ca_cutoff"] == 3.0 and out["profile"]["name"] == "Lab Y" and out["profile"]["version"] == 1
    assert main(["limits", str(path)]) == 0
    text = capsys.readouterr().out
    assert "every blank was zero" in text and "Proposed PIK3CA cut-off: 3 copies" in text
    assert main(["call", str(path), "--sample", "B0", "--json"]) == 0
    called = json.loads(capsys.readouterr().out)
    flat = json.dumps(called)
    assert "detectable_vaf_95" in flat and "genome_equivalents" in flat and "caveats" in flat and "limit_profile" in flat


def test_the_command_line_calls_with_a_stored_profile(tmp_path, capsys):
    from tdm1core.app.cli import main

    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = wf.open_store(db)
    profile = STUDY.__class__("Lab Z", 0, 1.25, 2.0, 100.0, computation={"lob": [{"hotspot": "E545K", "nonparametric": 0.5}]})
    stored = store.save_profile(profile, "lab admin")
    path = tmp_path / "s.csv"
    path.write_bytes(qs17(sample_wells("S1", e545k_mut=1)))  # one mutant droplet: 1.57 copies, below either cut-off
    assert main(["call", str(path), "--json", "--profile", stored.label, "--profile-db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    flat = json.dumps(out)
    assert '"limit_profile": "Lab Z v1"' in flat and '"pik3ca_mutant_cutoff_copies": 2.0' in flat
    assert main(["call", str(path), "--json", "--profile", "Lab Z v1", "--profile-db", db, "--pik3ca-cutoff", "4"]) == 0
    assert '"limit_profile": "custom (edited from Lab Z v1)"' in json.dumps(json.loads(capsys.readouterr().out))
    assert main(["call", str(path), "--profile", "Nope v1", "--profile-db", db]) == 2
    assert "no cut-off profile" in capsys.readouterr().err
