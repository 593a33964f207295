"""Issue 25, the lab's bench: any plate is shown (mapped or not), calls only for the panel's samples, the others
named; built in code in the documented layouts, and on a real PoDCall plate where it is present."""
from __future__ import annotations

from pathlib import Path

import pytest

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
