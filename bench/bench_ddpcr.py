"""Parse and call a full 96-well plate export (QuantaSoft 1.7.x and QuantaSoft Analysis Pro); print the median time
(target: < 50 ms each). Machine: the workplace's 2-core container."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tdm1core.calling.calls import call_export  # noqa: E402
from tdm1core.reading.exports import read_export  # noqa: E402
from tdm1core.demo.writer import DuplexWell, quantasoft_csv  # noqa: E402


def plate() -> bytes:
    import random

    rng = random.Random(1)
    wells = []
    pos = [f"{r}{c:02d}" for c in range(1, 13) for r in "ABCDEFGH"]
    for s in range(24):
        sample = f"S{s + 1:02d}"
        n = rng.randint(12000, 20000)
        wells.append(DuplexWell(pos[4 * s], sample, "HER2", "EFTUD2", rng.randint(200, 2000), rng.randint(200, 1500), n))
        for i, h in enumerate(("E542K", "E545K", "H1047R"), start=1):
            wells.append(DuplexWell(pos[4 * s + i], sample, f"PIK3CA {h} MUT", f"PIK3CA {h} WT", rng.randint(0, 8),
                                    rng.randint(100, 2000), rng.randint(12000, 20000)))
    return quantasoft_csv(wells).encode()


def qsap_plate() -> bytes:
    """The same plate in QuantaSoft Analysis Pro's 65-column layout (BOM, CRLF, unquoted)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from builders import qsap, qsap_sample

    rows = []
    for s in range(24):
        rows += qsap_sample(f"S{s + 1:02d}", her2=300 + 50 * s, eftud2=900, first=4 * s, mut=s % 5)
    return qsap(rows)


def _median(data: bytes) -> float:
    call_export(read_export(data, "plate.csv"))  # warm caches
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        call_export(read_export(data, "plate.csv"))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    print(f"{'benchmark':<52}{'median ms':>12}{'target ms':>12}")
    print(f"{'parse + call 96-well plate, QuantaSoft 1.7.x (192 rows)':<52}{_median(plate()) * 1e3:>12.1f}{50:>12}")
    print(f"{'parse + call 96-well plate, QSAP (192 rows)':<52}{_median(qsap_plate()) * 1e3:>12.1f}{50:>12}")


if __name__ == "__main__":
    main()
