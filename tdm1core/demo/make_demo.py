"""Regenerate the synthetic demo ddPCR export (``python -m tdm1core.demo.make_demo``).

SYNTHETIC: droplet counts are chosen (deterministically) so that the values
recomputed from them by Poisson statistics reproduce Table 3 of the study at
its printed precision: the HER2/EFTUD2 ratio to 2 decimals, mutant copies to
the printed decimals, wild-type copies to the integer. One HER2/EFTUD2 duplex
well and three PIK3CA duplex wells (mutant FAM, wild-type HEX) per patient;
patients are named ``P01`` ... ``P16`` after the study's numbering. Not patient data.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import tdm1core.measuring.poisson as poisson
from tdm1core.demo.writer import DuplexWell, quantasoft_csv

VOLUME_NL = 0.85
DATA_DIR = Path(__file__).with_name("data")
EXPORT_NAME = "demo_ddpcr_quantasoft.csv"
COMMENT = "SYNTHETIC demo generated to match Table 3 of the T-DM1 ctDNA study; not patient data"

# Table 3: patient: (HER2 ratio, E542K mut, wt, E545K mut, wt, H1047R mut, wt), printed strings
TABLE3 = {
    1: ("0.91", "0", "686", "0", "726", "0", "674"),
    2: ("1.10", "1.6", "344", "0", "390", "1.6", "398"),
    3: ("0.95", "0", "396", "0", "480", "0", "402"),
    4: ("0.93", "0", "202", "0", "222", "0", "186"),
    5: ("1.02", "0", "552", "0", "592", "0", "632"),
    6: ("1.11", "0", "1264", "18", "1174", "0", "1210"),
    7: ("1.11", "0", "814", "0", "864", "2.4", "818"),
    8: ("1.06", "0", "612", "0", "642", "0", "508"),
    9: ("2.14", "0", "1066", "0", "1000", "0", "990"),
    10: ("4.23", "0", "572", "0", "628", "0", "556"),
    11: ("0.93", "1.8", "4000", "4.6", "3860", "0", "4140"),
    12: ("1.45", "0", "480", "0", "522", "0", "482"),
    13: ("7.56", "0", "1680", "1.6", "1620", "0", "1480"),
    14: ("1.23", "0", "144", "0", "220", "0", "248"),
    15: ("1.82", "0", "502", "0", "552", "0", "570"),
    16: ("1.14", "0", "512", "0", "540", "0", "544"),
}
HOTSPOTS = ("E542K", "E545K", "H1047R")


def _copies(x: int, n: int) -> float:
    return 20 * poisson.concentration(x, n, VOLUME_NL)


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _positives_for(copies: float, n: int) -> int:
    return round(n * (1 - math.exp(-copies / 20 * VOLUME_NL * 1e-3)))


def _matches(x: int, n: int, printed: str) -> bool:
    if float(printed) == 0:
        return x == 0
    return round(_copies(x, n), _decimals(printed)) == float(printed)


def _pik3ca_well(rng: random.Random, mut: str, wt: str) -> tuple[int, int, int]:
    for _ in range(200_000):
        n = rng.randint(12_500, 20_000)
        xm = _positives_for(float(mut), n)
        xw = _positives_for(float(wt), n)
        for dm in (0, -1, 1):
            for dw in (0, -1, 1, -2, 2):
                if xm + dm >= 0 and _matches(xm + dm, n, mut) and _matches(xw + dw, n, wt):
                    return n, xm + dm, xw + dw
    raise RuntimeError(f"no droplet counts found for {mut}/{wt}")


def _her2_well(rng: random.Random, ratio: str, reference_copies: float) -> tuple[int, int, int]:
    for _ in range(200_000):
        n = rng.randint(13_000, 19_500)
        xr = _positives_for(reference_copies * rng.uniform(0.9, 1.1), n)
        xh = _positives_for(float(ratio) * 20 * poisson.concentration(xr, n, VOLUME_NL), n)
        for dh in range(-3, 4):
            c_h = poisson.concentration(xh + dh, n, VOLUME_NL)
            c_r = poisson.concentration(xr, n, VOLUME_NL)
            if round(c_h / c_r, 2) == float(ratio):
                return n, xh + dh, xr
    raise RuntimeError(f"no droplet counts found for ratio {ratio}")


def demo_wells(seed: int = 20190601) -> list[DuplexWell]:
    rng = random.Random(seed)
    wells: list[DuplexWell] = []
    positions = [f"{row}{col:02d}" for col in range(1, 13) for row in "ABCDEFGH"]
    k = 0
    for patient, values in TABLE3.items():
        sample = f"P{patient:02d}"
        wt_copies = [float(values[2]), float(values[4]), float(values[6])]
        n, xh, xr = _her2_well(rng, values[0], sum(wt_copies) / 3)
        wells.append(DuplexWell(positions[k], sample, "HER2", "EFTUD2", xh, xr, n, ch2_type="Reference",
                                experiment="SYNTHETIC", comment=COMMENT))
        k += 1
        for i, hotspot in enumerate(HOTSPOTS):
            mut, wt = values[1 + 2 * i], values[2 + 2 * i]
            n, xm, xw = _pik3ca_well(rng, mut, wt)
            wells.append(DuplexWell(positions[k], sample, f"PIK3CA {hotspot} MUT", f"PIK3CA {hotspot} WT", xm, xw, n,
                                    experiment="SYNTHETIC", comment=COMMENT))
            k += 1
    return wells


def write_export(directory: Path = DATA_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / EXPORT_NAME
    path.write_bytes(quantasoft_csv(demo_wells(), VOLUME_NL).encode("ascii"))
    return path


if __name__ == "__main__":
    print(write_export())
