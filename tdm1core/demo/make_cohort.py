"""Regenerate the SYNTHETIC demo cohort (``python -m tdm1core.demo.make_cohort``).

34 synthetic patients (not patient data) reconstructed to match the study's
published aggregates: Table 1 counts, Table 2 (CR 2, PR 7, SD 13, PD 9,
unknown 3) and every row of Table 4 (group sizes and primary-resistant counts).
Patients D01-D16 had ctDNA and are linked to the demo ddPCR export samples
P01-P16 (Table 3's numbering).

Notes (also written into the file's ``demo_note`` column):
* Table 1 prints "ER and/or PR positive 18" but Table 4 uses 17 vs 17, which its
  p = 0.438 needs; the demo uses 17.
* Primary resistance is PD at the first evaluation; the 3 patients whose best
  response is unknown have SD recorded at the first evaluation, so all 34 count
  in Table 4 as in the paper (9 of 34 resistant).
* The 16 ctDNA patients: the 4 primary-resistant (3, 6, 11, 14) are HER2 not
  amplified and hormone-receptor positive; patient 16 shares that profile but
  did not progress early. Time to progression (``ttp_days``, fractional where
  the published median needs it) gives KM medians 56.6 days (95% CI 36-NA,
  log-log) in the flagged group and 318 days (187-NA) in the others; the
  log-rank p is 0.0038 against the published 0.0037.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
import random
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).with_name("data")
PATIENTS_NAME = "demo_patients.csv"
NOTE = "SYNTHETIC demo patient, not patient data; reconstructed to match published aggregates"

RESISTANT_CTDNA = {3, 6, 11, 14}
HR_POSITIVE_CTDNA = {3, 6, 11, 14, 16, 9, 12}
FLAG_TTP = {3: (36.0, 1), 6: (52.0, 1), 11: (56.6, 1), 14: (77.0, 1), 16: (198.0, 0)}
OTHER_TTP = [(69, 1), (187, 1), (235, 1), (273, 1), (306, 1), (318, 1), (485, 1), (232, 0), (355, 0), (496, 0), (563, 0)]
OTHER_CTDNA = [1, 2, 4, 5, 7, 8, 9, 10, 12, 13, 15]
ADJUVANT = (["anthracycline followed by taxane + trastuzumab"] * 8 + ["taxane + trastuzumab"] * 4
            + ["trastuzumab without chemotherapy"] * 2 + ["anthracycline followed by trastuzumab", "anthracycline followed by taxane",
                                                          "taxane", "UFT + trastuzumab", "CMF", "doxifluridine"])
ANTHRA_REGIMENS = {"anthracycline followed by taxane + trastuzumab", "anthracycline followed by trastuzumab", "anthracycline followed by taxane"}


def _pick(rng: random.Random, pool: list[int], k: int) -> set[int]:
    return set(rng.sample(pool, k))


def _split(rng: random.Random, resistant: list[int], others: list[int], n: int, n_res: int) -> set[int]:
    return _pick(rng, resistant, n_res) | _pick(rng, others, n - n_res)


@dataclass
class _Sets:
    """Which synthetic patients have each characteristic (drawn together so that Table 4's counts are the study's)."""

    resistant: list[int]
    others: list[int]
    hr_pos: set[int]
    stage4: set[int] = field(default_factory=set)
    late: set[int] = field(default_factory=set)
    anthra: set[int] = field(default_factory=set)
    pertu: set[int] = field(default_factory=set)
    lapa: set[int] = field(default_factory=set)
    zero: set[int] = field(default_factory=set)


def _draw_sets(rng: random.Random, ids: list[int]) -> _Sets:
    non_ctdna_res = [17, 18, 19, 20, 21]
    resistant = sorted(RESISTANT_CTDNA | set(non_ctdna_res))
    others = [i for i in ids if i not in resistant]
    hr_pos = set(HR_POSITIVE_CTDNA) | {17, 18} | set(range(22, 30))  # 7 + 2 + 8 = 17; resistant HR+: 3,6,11,14,17,18
    assert len(hr_pos) == 17 and len(hr_pos & set(resistant)) == 6
    for _ in range(100_000):
        s = _Sets(resistant, others, hr_pos, _split(rng, resistant, others, 9, 2), _split(rng, resistant, others, 17, 6),
                  _split(rng, resistant, others, 11, 3), _split(rng, resistant, others, 15, 5),
                  _split(rng, resistant, others, 11, 3))
        s.zero = set(rng.sample([i for i in ids if i not in s.late], 2))
        recurrent = {i for i in ids if i not in s.stage4}
        if not s.zero & (s.pertu | s.lapa) and len(s.anthra & recurrent) >= 10 and len(hr_pos & recurrent) >= 10 \
                and len(s.lapa) >= 3:
            return s
    raise RuntimeError("no assignment found")  # pragma: no cover


def _prior_lines(rng: random.Random, ids: list[int], s: _Sets) -> dict[int, int]:
    late_lines = [2] * 4 + [3] * 6 + [4] * 3 + [5, 6, 5, 7]
    rng.shuffle(late_lines)
    lines = {i: v for i, v in zip(sorted(s.late), late_lines)}
    lines.update({i: (0 if i in s.zero else 1) for i in ids if i not in s.late})
    return lines


def _regimens(rng: random.Random, ids: list[int], recurrent: list[int], anthra: set[int]) -> dict[int, str]:
    """Adjuvant chemotherapy among recurrent patients; anthracycline regimens within the anthracycline set."""
    regimen: dict[int, str] = {i: "none" for i in ids}
    anthra_regs = [r for r in ADJUVANT if r in ANTHRA_REGIMENS]
    other_regs = [r for r in ADJUVANT if r not in ANTHRA_REGIMENS]
    for i, r in zip(rng.sample(sorted(anthra & set(recurrent)), len(anthra_regs)), anthra_regs):
        regimen[i] = r
    free = [i for i in recurrent if regimen[i] == "none" and i not in anthra]
    for i, r in zip(rng.sample(free, len(other_regs)), other_regs):
        regimen[i] = r
    return regimen


def _ages(rng: random.Random) -> list[int]:
    """Median 62 (the 17th and 18th of 34 both 62), range 38-84."""
    low = sorted(rng.randint(38, 61) for _ in range(15))
    high = sorted(rng.randint(63, 84) for _ in range(15))
    ages = [38] + low + [62, 62] + high + [84]
    rng.shuffle(ages)
    return ages


def _responses(rng: random.Random, ids: list[int], s: _Sets) -> tuple[dict[int, str], dict[int, str]]:
    best: dict[int, str] = {i: "PD" for i in s.resistant}
    non_res = s.others[:]
    rng.shuffle(non_res)
    for i, r in zip(non_res, ["CR"] * 2 + ["PR"] * 7 + ["SD"] * 13 + ["NE"] * 3):
        best[i] = r
    first = {i: ("PD" if best[i] == "PD" else {"CR": rng.choice(["PR", "CR"]), "PR": rng.choice(["PR", "SD"]),
                                               "SD": "SD", "NE": "SD"}[best[i]]) for i in ids}
    return best, first


def _times(rng: random.Random, ids: list[int], resistant: list[int]) -> dict[int, tuple[float, int]]:
    ttp: dict[int, tuple[float, int]] = dict(FLAG_TTP)
    other_times = OTHER_TTP[:]
    rng.shuffle(other_times)
    ttp.update({i: (float(t), e) for i, (t, e) in zip(OTHER_CTDNA, other_times)})
    for i in ids:
        if i in ttp:
            continue
        if i in resistant:
            ttp[i] = (float(rng.randint(38, 95)), 1)
        else:
            event = rng.random() < 0.7
            ttp[i] = (float(rng.randint(100, 700) if event else rng.randint(150, 900)), int(event))
    return ttp


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def build(seed: int = 2019) -> pd.DataFrame:
    rng = random.Random(seed)
    ids = list(range(1, 35))
    s = _draw_sets(rng, ids)
    no_trastuzumab = s.zero | set(rng.sample(sorted(s.lapa), 3))
    lines = _prior_lines(rng, ids, s)
    treated = [i for i in ids if lines[i] >= 1]
    recurrent = [i for i in ids if i not in s.stage4]
    regimen = _regimens(rng, ids, recurrent, s.anthra)
    endocrine = _pick(rng, sorted(s.hr_pos & set(recurrent)), 10)
    hormonal = _pick(rng, sorted(s.hr_pos & set(treated)), 12)
    pools = {name: _pick(rng, treated, k) for name, k in (("taxane", 20), ("capecitabine", 15), ("vinorelbine", 7),
                                                           ("s1", 4), ("eribulin", 3), ("cyclophosphamide", 2),
                                                           ("other", 4))}
    ages = _ages(rng)
    best, first = _responses(rng, ids, s)
    ttp = _times(rng, ids, s.resistant)
    start0 = dt.date(2015, 5, 1)
    pathology = {i: "invasive ductal carcinoma" for i in ids}
    pathology[rng.choice(ids)] = "medullary carcinoma"
    pathology[rng.choice([i for i in ids if pathology[i] == "invasive ductal carcinoma"])] = \
        "poorly differentiated adenocarcinoma"
    her2_2plus = set(rng.sample(ids, 4))
    rows = []
    for i in ids:
        start = start0 + dt.timedelta(days=rng.randint(0, 729))
        t, e = ttp[i]
        er, pr = (rng.choice([("positive", "positive"), ("positive", "positive"), ("positive", "negative"),
                              ("negative", "positive")]) if i in s.hr_pos else ("negative", "negative"))
        rows.append({
            "patient_id": f"D{i:02d}", "age": ages[i - 1], "stage": "de novo stage IV" if i in s.stage4 else "recurrent",
            "pathology": pathology[i], "her2_primary": "IHC 2+ and FISH+" if i in her2_2plus else "IHC 3+",
            "er_status": er, "pr_status": pr, "adjuvant_chemotherapy": regimen[i],
            "adjuvant_endocrine": _yes(i in endocrine), "prior_lines": lines[i],
            "prior_trastuzumab": _yes(not (i in no_trastuzumab or lines[i] == 0)),
            "prior_taxane": _yes(i in pools["taxane"]), "prior_pertuzumab": _yes(i in s.pertu),
            "prior_capecitabine": _yes(i in pools["capecitabine"]), "prior_hormonal": _yes(i in hormonal),
            "prior_lapatinib": _yes(i in s.lapa), "prior_vinorelbine": _yes(i in pools["vinorelbine"]),
            "prior_s1": _yes(i in pools["s1"]), "prior_eribulin": _yes(i in pools["eribulin"]),
            "prior_cyclophosphamide": _yes(i in pools["cyclophosphamide"]), "prior_anthracycline": _yes(i in s.anthra),
            "prior_other": _yes(i in pools["other"]),
            "tdm1_start_date": start.isoformat(), "first_response": first[i], "best_response": best[i],
            "progression": _yes(bool(e)), "progression_or_last_followup_date": (start + dt.timedelta(days=int(t))).isoformat(),
            "ctdna_sample_id": f"P{i:02d}" if i <= 16 else "", "ttp_days": f"{t:g}", "demo_note": NOTE,
        })
    return pd.DataFrame(rows)


def write(directory: Path = DATA_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PATIENTS_NAME
    build().to_csv(path, index=False, lineterminator="\n")
    return path


if __name__ == "__main__":
    print(write())
