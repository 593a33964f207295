"""Exports are formula-injection safe; the app's configuration sends no telemetry and limits uploads."""
import csv
import io
import tomllib

import openpyxl
import pandas as pd

from conftest import ROOT
from tdm1core.reporting.export import to_csv_bytes, to_json_bytes, to_xlsx_bytes
from tdm1core.settings import Settings

EVIL = pd.DataFrame({"patient": ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tTAB", "plain"],
                     "value": [1.5, -2.0, 3.0, 4.0, 5.0, 6.0]})


def test_csv_cells_that_would_run_as_formulas_are_quoted_numbers_stay_numbers():
    text = to_csv_bytes(EVIL, Settings()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    cells = [r[0] for r in rows[1:7]]
    assert all(c.startswith("'") for c in cells[:5]) and cells[5] == "plain"
    assert rows[2][1] == "-2.0"
    assert "HER2/EFTUD2 ratio cut-off 1.25" in text  # settings stamped


def test_xlsx_cells_are_text_not_formulas():
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes({"t": EVIL}, Settings())))
    ws = wb["t"]
    values = [ws.cell(row=i, column=1).value for i in range(2, 8)]
    assert all(isinstance(v, str) and not v.startswith("=") for v in values)
    assert all(ws.cell(row=i, column=1).data_type == "s" for i in range(2, 8))
    assert ws.cell(row=3, column=2).value == -2.0
    assert "About" in wb.sheetnames


def test_json_has_no_nan():
    assert b"NaN" not in to_json_bytes({"x": float("nan"), "y": [float("inf")]})


def test_streamlit_config_sends_no_usage_statistics_and_limits_uploads():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["browser"]["gatherUsageStats"] is False
    assert 1 <= cfg["server"]["maxUploadSize"] <= 64  # MB: a zipped 96-well plate of droplet files is ~15 MB
    assert cfg["client"]["toolbarMode"] in ("viewer", "minimal")
    # a served app watches no source files (the watcher re-scanned every module's path after each run, holding the
    # event loop of every session for ~0.8 s on 2 cores: issue 11, item 16)
    assert cfg["server"]["fileWatcherType"] == "none"
    # Streamlit's own menu is off: before app.py's first run it would list the pages/ folder's modules (issue 23)
    assert cfg["client"]["showSidebarNavigation"] is False


def test_the_pages_freeze_the_loaded_libraries_out_of_the_per_run_garbage_collection():
    """Streamlit collects all generations after every script run; the pages' warm-up freezes what it loaded
    (pandas, plotly, matplotlib, reportlab, the statistics), so that collection no longer walks ~200,000 library
    objects on every run of every session (issue 11, item 16). Checked in a fresh interpreter, as the server is."""
    import subprocess
    import sys

    code = ("import gc, threading, pages._common\n"
            "[t.join() for t in threading.enumerate() if t.name == 'tdm1-warm-up']\n"
            "import sys; print(gc.get_freeze_count(), len(gc.get_objects()), 'reportlab' in sys.modules, "
            "'matplotlib' in sys.modules, 'tdm1core.stats.contingency' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    frozen, tracked, *loaded = out.stdout.split()
    assert loaded == ["True"] * 3, out.stdout
    assert int(frozen) > 100_000 and int(tracked) < int(frozen) // 10, out.stdout


def test_display_tables_show_na_and_keep_one_type_per_column():
    import math

    import pandas as pd
    import pyarrow as pa

    from tdm1core.reporting.export import for_display

    df = pd.DataFrame({"ratio": [1.23456, math.nan], "n": [3, None], "p": [0.4381, float("inf")], "name": ["a", None]})
    out = for_display(df, {"ratio": 2, "p": 3})
    assert list(out["ratio"]) == ["1.23", "NA"] and list(out["p"]) == ["0.438", "NA"] and list(out["name"]) == ["a", "NA"]
    assert list(out["n"]) == ["3", "NA"]
    pa.Table.from_pandas(out)  # what st.dataframe does: never a mixed column
