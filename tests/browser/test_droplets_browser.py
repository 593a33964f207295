"""The Droplets page in a real browser, as a lab scientist uses it: upload a zipped plate, click a well on the plate
view, read its plots, switch to automatic thresholds; desktop and phone screenshots."""
import io
import sys
import time
import zipfile

import pytest

from test_browser import (ARGS, CHROMIUM, ROOT, SHOTS, _no_exception, _text, _wait_for_text, _wait_idle, needs_browser,
                          streamlit_server)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def plate_server(tmp_path_factory):
    needs_browser()
    sys.path.insert(0, str(ROOT / "tests"))
    from builders import plate_droplet_files, qs17, sample_wells

    folder = tmp_path_factory.mktemp("droplets")
    wells = (sample_wells("P1", her2=2600, eftud2=1000, e545k_mut=5) + sample_wells("P2", her2=800, eftud2=1000, well0=4)
             + sample_wells("P3", her2=1500, eftud2=1000, well0=8))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for data, name in plate_droplet_files(wells, "Run 60°C", seed=11) + [(qs17(wells), "Run 60°C_results.csv")]:
            z.writestr(name, data)
    (folder / "plate.zip").write_bytes(buf.getvalue())
    with streamlit_server(folder / "app.sqlite") as url:
        yield url, folder


def _screens(pg, name: str, n: int = 4) -> None:
    """Screenshots down the page (Streamlit scrolls its own container, so a full-page shot shows only the top)."""
    for i in range(n):
        pg.screenshot(path=str(SHOTS / f"{name}_{i}.png"))
        pg.evaluate("""() => {
            const el = [...document.querySelectorAll('*')].find(e => e.scrollHeight > e.clientHeight + 50
                && /auto|scroll/.test(getComputedStyle(e).overflowY));
            if (el) el.scrollBy(0, 0.85 * el.clientHeight);
        }""")
        time.sleep(0.6)


def _plate_wells_do_not_overlap(pg):
    """The plate view's grid of wells, asserted free of overlapping neighbours; (the plot, the wells' boxes)."""
    plate = pg.locator(".js-plotly-plot").first
    plate.scroll_into_view_if_needed()
    grid = plate.locator(".scatterlayer .trace").first.locator("path.point")
    grid.first.wait_for(timeout=30_000)
    boxes = [grid.nth(i).bounding_box() for i in range(grid.count())]
    rows: dict[float, list] = {}
    for b in boxes:
        rows.setdefault(round(b["y"]), []).append(b)
    for row in rows.values():
        row.sort(key=lambda b: b["x"])
        for a, b in zip(row, row[1:]):
            assert a["x"] + a["width"] <= b["x"] + 0.5, (a, b)  # neighbours do not overlap
    return plate, boxes


def test_a_zipped_plate_shows_the_plate_a_clicked_well_and_the_calls(plate_server):
    from playwright.sync_api import sync_playwright

    url, folder = plate_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.goto(f"{url}/droplet-review")
        _wait_idle(pg)
        pg.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(folder / "plate.zip"))
        assert "Calls from these droplets" in _wait_for_text(pg, "Calls from these droplets")
        _wait_idle(pg)
        body = _text(pg)
        assert "12 well(s)" in body and "Run 60°C_results.csv" in body and "Well A01: P1" in body
        # a person clicks well C01 (P1's E545K duplex) on the plate view
        plate = pg.locator(".js-plotly-plot").first
        traces = plate.locator(".scatterlayer .trace")
        traces.nth(1).locator("path.point").first.wait_for(timeout=30_000)  # the chart has drawn its wells
        wells = [traces.nth(t).locator("path.point").nth(i) for t in range(1, traces.count())
                 for i in range(traces.nth(t).locator("path.point").count())]
        assert len(wells) >= 12  # the 12 wells (and the selected well's ring); the empty grid is the first trace
        target = None
        for point in wells:  # the mouse over each well, as a person looks for C01 (Plotly's hover shows it)
            box = point.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            pg.mouse.move(x, y)
            time.sleep(0.25)
            if "C01 · P1" in plate.locator(".hoverlayer").text_content():
                target = (x, y)
                break
        assert target is not None, "no plate point shows C01 on hover"
        pg.mouse.click(*target)
        assert "Well C01: P1" in _wait_for_text(pg, "Well C01: P1")
        _wait_idle(pg)
        _no_exception(pg)
        _screens(pg, "droplets_well_C01")
        # automatic thresholds: the well's table shows the five mutant droplets
        pg.get_by_text("Automatic thresholds", exact=True).click()
        assert "automatic thresholds (negative-cluster fence" in _wait_for_text(pg, "automatic thresholds (negative-cluster fence")
        _wait_idle(pg)
        assert "Well C01: P1" in _text(pg)  # the clicked well stays chosen
        _screens(pg, "droplets_auto", 3)
        # manual thresholds: a person types both values (Enter commits each)
        pg.get_by_text("Manual thresholds", exact=True).click()
        _wait_idle(pg)
        for label in ("Ch1 (FAM) threshold", "Ch2 (HEX/VIC) threshold"):
            box = pg.get_by_label(label)
            box.fill("4000")
            box.press("Enter")
            _wait_idle(pg)
        assert "manual thresholds (positive at or above): Ch1 4000, Ch2 4000" in _wait_for_text(pg, "Ch1 4000, Ch2 4000")
        assert "Well C01: P1" in _text(pg)  # the well chosen before stays chosen
        assert "Ch1+Ch2- 5," in _text(pg)  # the five mutant droplets are above 4000 in Ch1, below 4000 in Ch2
        # then drags a box over C01's upper four mutant droplets on the Ch1 plot: the well's threshold goes to the
        # lowest droplet in the box
        find = """() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g._fullLayout && g._fullLayout.title
                && String(g._fullLayout.title.text || '').replace(/<[^>]+>/g, '').startsWith('Ch1') && g._fullData
                && g._fullData.some(t => String(t.name).startsWith('positive')))"""
        pg.wait_for_function(f"() => !!({find})()", timeout=30_000)
        pg.evaluate(f"() => ({find})().scrollIntoView({{block: 'center'}})")
        _wait_idle(pg)
        time.sleep(1)
        drag = pg.evaluate("""() => {
            const gd = (""" + find + """)();
            const tr = gd._fullData.find(t => String(t.name).startsWith('positive'));  // decoded arrays
            const ys = Array.from(tr.y).sort((a, b) => a - b);
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
            const px = v => r.left + xa._offset + xa.d2p(v), py = v => r.top + ya._offset + ya.d2p(v);
            const [x0, x1] = xa.range, top = ya.range[1] - 0.02 * (ya.range[1] - ya.range[0]);
            return {x0: px(x0 + 0.02 * (x1 - x0)), x1: px(x1 - 0.02 * (x1 - x0)), y0: py(top), y1: py((ys[0] + ys[1]) / 2),
                    second: ys[1], count: ys.length};
        }""")
        assert drag["count"] == 5
        pg.mouse.move(drag["x0"], drag["y0"])
        pg.mouse.down()
        pg.mouse.move(drag["x1"], drag["y1"], steps=15)
        pg.mouse.up()
        expected = f"C01 Ch1 {drag['second']:g}"
        assert expected in _wait_for_text(pg, expected), expected  # the well's own threshold, stamped
        _wait_idle(pg)
        assert "Ch1+Ch2- 4," in _text(pg)  # 4 mutant droplets at or above the second-lowest of the five
        _screens(pg, "droplets_manual", 2)
        # the phone
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
        phone.goto(f"{url}/droplet-review")
        _wait_idle(phone)
        phone.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(folder / "plate.zip"))
        assert "Plate summary" in _wait_for_text(phone, "Plate summary")
        _wait_idle(phone)
        _no_exception(phone)
        plots = phone.locator(".js-plotly-plot")
        for i, part in enumerate([plots.nth(0), phone.get_by_text("Well A01: P1"), plots.nth(1), plots.nth(2),
                                  phone.get_by_text("Plate summary"), phone.get_by_text("Calls from these droplets")]):
            part.scroll_into_view_if_needed()
            time.sleep(0.5)
            phone.screenshot(path=str(SHOTS / f"phone_droplets_{i}.png"))
        plate_box = phone.locator(".js-plotly-plot").first.bounding_box()
        assert plate_box and plate_box["x"] >= 0 and plate_box["x"] + plate_box["width"] <= 390
        # the Patient page from the same zipped plate: the droplets behind the chosen sample's calls
        pg.goto(f"{url}/patient-result")
        _wait_idle(pg)
        pg.get_by_text("Upload droplet files (a plate)", exact=True).click()
        _wait_idle(pg)
        pg.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(folder / "plate.zip"))
        assert "The droplets behind these calls" in _wait_for_text(pg, "The droplets behind these calls")
        _wait_idle(pg)
        _no_exception(pg)
        pg.get_by_text("The droplets behind these calls").scroll_into_view_if_needed()
        time.sleep(0.5)
        pg.screenshot(path=str(SHOTS / "patient_from_droplets.png"))
        browser.close()


def test_the_plate_grid_fits_a_phone_without_overlapping_wells(plate_server):
    """Issue 23 item 16: at 390 px the wells of the plate view do not overlap, and the plot stays on screen."""
    from playwright.sync_api import sync_playwright

    url, folder = plate_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        pg.goto(f"{url}/droplet-review")
        _wait_idle(pg)
        pg.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(folder / "plate.zip"))
        _wait_for_text(pg, "Calls from these droplets")
        _wait_idle(pg)
        plate, boxes = _plate_wells_do_not_overlap(pg)
        assert len(boxes) == 96
        pbox = plate.bounding_box()
        assert pbox["x"] >= 0 and pbox["x"] + pbox["width"] <= 390, pbox
        pg.screenshot(path=str(SHOTS / "phone_droplets_plate.png"))
        browser.close()


@pytest.fixture(scope="module")
def other_assay_plate(tmp_path_factory):
    """A plate of another lab's assay (VIM methylation and new4Plex), with one panel sample (issue 25)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from builders import plate_droplet_files, qs17, sample_wells
    from tdm1core.demo.writer import DuplexWell

    wells = sample_wells("P1", her2=2600, eftud2=1000) + [
        DuplexWell("A02", "SW480", "VIM", "new4Plex", 60, 8000, 15000),
        DuplexWell("B02", "NTC", "VIM", "new4Plex", 2, 0, 15000),
        DuplexWell("C02", "SW620", "VIM", "new4Plex", 300, 600, 1185)]
    folder = tmp_path_factory.mktemp("other")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for data, name in plate_droplet_files(wells, "VIM_run", seed=5) + [(qs17(wells), "VIM_run_results.csv")]:
            z.writestr(name, data)
    (folder / "vim.zip").write_bytes(buf.getvalue())
    return folder / "vim.zip"


def test_a_plate_of_another_assay_is_shown_with_its_qc_on_desktop_and_phone(plate_server, other_assay_plate):
    """Issue 25: every well is drawn and summarised, the panel's sample called, the others listed as not part of the
    panel, QC codes on the summary; on a phone the grid's wells do not overlap."""
    from playwright.sync_api import sync_playwright

    url, _ = plate_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for width, name in ((1400, "droplets_other_assay"), (390, "phone_droplets_other_assay")):
            pg = browser.new_page(viewport={"width": width, "height": 900 if width > 400 else 844}, is_mobile=width < 400)
            pg.goto(f"{url}/droplet-review")
            _wait_idle(pg)
            pg.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(other_assay_plate))
            text = _wait_for_text(pg, "Not part of the panel")
            _wait_idle(pg)
            _no_exception(pg)
            text = _text(pg)
            assert "SW480" in text and "SW620" in text and "Calls from these droplets" in text
            if width > 400:  # the summary is a table widget (drawn on a canvas): download it and read it, as a person
                import csv

                button = pg.locator(".st-key-droplet_plate_dl_csv button")
                button.scroll_into_view_if_needed()
                with pg.expect_download(timeout=60_000) as info:
                    button.click()
                target = other_assay_plate.parent / "summary.csv"
                info.value.save_as(str(target))
                lines = [ln for ln in target.read_text(encoding="utf-8-sig").splitlines() if ln and not ln.startswith("#")]
                qc = {r["well"]: r["QC"] for r in csv.DictReader(lines)}
                assert qc["B02"] == "NTC_POSITIVE" and qc["C02"] == "LOW_DROPLETS" and qc["A01"] == "ok"
            _plate_wells_do_not_overlap(pg)
            _screens(pg, name, 3)
            pg.close()
        browser.close()
