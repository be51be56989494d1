"""Planning maps in headless Chromium: no JS errors, features drawn, toggles, popups, offline.

Needs Debian's chromium and chromium-driver (nothing downloads a browser). Without them the
tests skip, unless RENOGIS_REQUIRE_BROWSER=1 (set in CI), in which case they fail.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from renogis.outputs.map import write_map
from tests.outputs.test_map import make_world

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# Count the features (leaf layers with a GeoJSON feature; district labels have none) of every
# renogis group, and how many of them are on the map.
COUNT_JS = """
var reg = window.renogis[Object.keys(window.renogis)[0]];
var out = {};
Object.keys(reg.groups).forEach(function (key) {
  var total = 0, shown = 0;
  (function walk(layer) {
    if (layer.getLayers) { layer.getLayers().forEach(walk); }
    else if (layer.feature) { total += 1; if (layer._map) { shown += 1; } }
  })(reg.groups[key]);
  out[key] = [total, shown];
});
return out;
"""



def _text(driver, element) -> str:
    """The popup's whole rendered text (also the part scrolled out of view), table cells joined by
    single spaces. Selenium's element.text drops what a scrolled popup hides."""
    import re

    return re.sub(r"[ \t]+", " ", driver.execute_script("return arguments[0].innerText", element))

def _browser_missing() -> str | None:
    missing = [
        p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(Path(p).name))
    ]
    if missing:
        return f"headless Chromium not available ({', '.join(missing)} missing; apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:  # pragma: no cover
        return "selenium is not installed"
    return None


def make_driver(
    user_data_dir: Path, *, offline: bool = True, size: tuple[int, int] = (1200, 900)
) -> Any:
    """A headless Chromium driver; ``offline`` blocks every host name lookup."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={size[0]},{size[1]}",
    ):
        opts.add_argument(arg)
    if offline:
        opts.add_argument("--host-resolver-rules=MAP * ~NOTFOUND")
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    if offline:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
    return driver


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = _browser_missing()
    if reason:
        if os.environ.get("RENOGIS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"RENOGIS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    drv = make_driver(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def map_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = make_world()
    comp = world.pop("compounds")
    return write_map(tmp_path_factory.mktemp("maps") / "plan.html", comp, tiles="none", **world)


def load(driver: Any, path: Path, *, timeout_s: float = 15.0) -> None:
    driver.get(path.as_uri())
    driver.get_log("browser")  # drop entries from earlier pages
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if driver.execute_script("return !!(window.renogis && Object.keys(window.renogis).length)"):
            _settle(driver)  # the initial fit may animate: clicks and labels need the final view
            return
        time.sleep(0.1)
    raise AssertionError(f"map in {path} did not draw within {timeout_s} s")


def severe(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_renders_offline_with_expected_features(
    driver: Any, map_html: Path, tmp_path: Path
) -> None:
    driver.get(map_html.as_uri())
    time.sleep(0.3)
    errors = severe(driver)
    assert errors == []
    assert driver.execute_script(
        "return typeof window.L === 'object' && !!L.Control.Search "
        "&& !!L.markerClusterGroup && !!L.control.fullscreen"
    )
    counts = driver.execute_script(COUNT_JS)
    assert counts == {
        "compounds": [8, 8],
        "excluded": [1, 1],
        "gap:kindergarten": [0, 0],
        "gap:clinic": [0, 0],
        "service:kindergarten": [0, 0],
        "service:clinic": [0, 0],
        "parcels": [2, 2],
        "siting": [1, 1],
        "districts": [2, 2],
        "facilities": [3, 3],
        "streets": [5, 5],  # one feature per street class and name
        "barriers": [2, 2],
    }
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('.renogis-label')).map(e => e.textContent)"
    )
    assert sorted(labels) == ["D1480 户", "D2620 户"]  # both fit at the initial zoom
    assert driver.find_elements("css selector", ".leaflet-control-scale")
    assert driver.find_elements("css selector", ".leaflet-control-zoom-fullscreen")
    assert driver.find_elements("css selector", ".leaflet-control-search")
    assert "图例" in driver.find_element("css selector", ".renogis-legend").text
    assert driver.execute_script("return document.querySelectorAll('.leaflet-tile').length") == 0
    shot = tmp_path / "map.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def _toggle(driver: Any, name: str) -> None:
    labels = driver.find_elements("css selector", ".leaflet-control-layers-overlays label")
    match = [lab for lab in labels if lab.text.strip() == name]
    assert len(match) == 1, [lab.text for lab in labels]
    match[0].find_element("css selector", "input").click()


def test_layer_toggle_hides_and_shows(driver: Any, map_html: Path) -> None:
    load(driver, map_html)
    _toggle(driver, "覆盖：社区卫生服务站")
    assert driver.execute_script(COUNT_JS)["gap:clinic"] == [9, 9]
    _toggle(driver, "覆盖：社区卫生服务站")
    assert driver.execute_script(COUNT_JS)["gap:clinic"] == [9, 0]
    _toggle(driver, "小区(按片区着色)")
    assert driver.execute_script(COUNT_JS)["compounds"] == [8, 0]
    _toggle(driver, "小区(按片区着色)")
    assert driver.execute_script(COUNT_JS)["compounds"] == [8, 8]
    _toggle(driver, "服务范围：幼儿园")
    assert driver.execute_script(COUNT_JS)["service:kindergarten"] == [1, 1]
    assert severe(driver) == []


def test_streets_and_barriers_below_compounds_and_toggle(driver: Any, map_html: Path) -> None:
    load(driver, map_html)
    panes = driver.execute_script(
        """var out = {};
        ["renogis-streets", "renogis-barriers"].forEach(function (name) {
          var pane = document.querySelector(".leaflet-" + name + "-pane");
          out[name] = [Number(pane.style.zIndex), pane.style.pointerEvents,
                       pane.querySelectorAll("canvas").length]; });
        var overlay = document.querySelector(".leaflet-overlay-pane");
        out.overlay = Number(getComputedStyle(overlay).zIndex);
        return out;"""
    )
    assert panes == {
        "renogis-streets": [350, "none", 1],
        "renogis-barriers": [340, "none", 1],
        "overlay": 400,
    }
    styles = driver.execute_script(
        """var r = window.renogis[Object.keys(window.renogis)[0]], out = [];
        r.groups.streets.eachLayer(function (g) { g.eachLayer(function (l) {
          var o = l.options;
          out.push([l.feature.properties.k, o.weight, o.color, o.interactive]);
        }); });
        return out;"""
    )
    # path first, arterial on top; wider and darker for higher classes
    assert styles == [
        [3, 1.2, "#999999", False],
        [2, 2, "#999999", False],
        [2, 2, "#999999", False],
        [1, 3.5, "#777777", False],
        [0, 5, "#555555", False],
    ]
    _toggle(driver, "道路")
    assert driver.execute_script(COUNT_JS)["streets"] == [5, 0]
    _toggle(driver, "道路")
    assert driver.execute_script(COUNT_JS)["streets"] == [5, 5]
    _toggle(driver, "河流与障碍")
    assert driver.execute_script(COUNT_JS)["barriers"] == [2, 0]
    legend = driver.find_element("css selector", ".renogis-legend").text
    assert "主干路" in legend and "步行道" in legend and "河流与障碍" in legend
    assert severe(driver) == []


def _click_at_latlng(driver: Any, lat: float, lon: float) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    map_el = driver.find_element("css selector", ".folium-map")
    x, y = driver.execute_script(
        "var r = window.renogis[Object.keys(window.renogis)[0]];"
        "var p = r.map.latLngToContainerPoint([arguments[0], arguments[1]]); return [p.x, p.y];",
        lat,
        lon,
    )
    w, h = map_el.size["width"], map_el.size["height"]
    ActionChains(driver).move_to_element_with_offset(
        map_el, int(x - w / 2), int(y - h / 2)
    ).click().perform()


def _feature_centre(driver: Any, group: str, prop: str, value: str) -> tuple[float, float]:
    return driver.execute_script(
        """
      var r = window.renogis[Object.keys(window.renogis)[0]], found = null;
      (function walk(l) { if (l.getLayers) { l.getLayers().forEach(walk); }
        else if (l.feature && l.feature.properties[arguments[1]] === arguments[2]) { found = l; } })
        (r.groups[arguments[0]]);
      var c = found.getBounds().getCenter(); return [c.lat, c.lng];""".replace(
            "arguments[1]", repr(prop)
        ).replace("arguments[2]", repr(value)),
        group,
    )


def test_click_compound_opens_popup(driver: Any, map_html: Path) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    load(driver, map_html)
    lat, lon = _feature_centre(driver, "compounds", "i", "C01")
    _click_at_latlng(driver, lat, lon)
    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located(("css selector", ".leaflet-popup-content"))
    )
    text = _text(driver, popup)
    assert text.startswith("小区01")
    assert "户数 110 户" in text and "片区 D1" in text and "建成年份 1990" in text
    assert "建筑面积 5,000 m²" in text
    # walking distances in whole metres, uncovered households with their unit
    assert "社区卫生服务站 224 m ✓ 0 户" in text and "幼儿园 100 m ✓ 0 户" in text
    # the district's gaps: coverage as a share, uncovered households whole
    assert "片区设施缺口" in text and "社区卫生服务站 79% 100 户" in text
    assert severe(driver) == []


def test_click_excluded_compound_shows_reason(driver: Any, map_html: Path) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    load(driver, map_html)
    lat, lon = _feature_centre(driver, "excluded", "i", "C20")
    _click_at_latlng(driver, lat, lon)
    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located(("css selector", ".leaflet-popup-content"))
    )
    assert "未纳入原因 同意率不足" in _text(driver, popup)


def test_search_by_name_opens_popup(driver: Any, map_html: Path) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    load(driver, map_html)
    box = driver.find_element("css selector", ".leaflet-control-search input.search-input")
    box.send_keys("小区22")
    tip = WebDriverWait(driver, 5).until(
        ec.element_to_be_clickable(("css selector", ".leaflet-control-search .search-tip"))
    )
    tip.click()
    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located(("css selector", ".leaflet-popup-content"))
    )
    assert _text(driver, popup).startswith("小区22") and "户数 180" in _text(driver, popup)


def test_english_map(driver: Any, tmp_path: Path) -> None:
    world = make_world()
    comp = world.pop("compounds")
    path = write_map(tmp_path / "en.html", comp, tiles="none", lang="en", **world)
    load(driver, path)
    labels = [
        e.text
        for e in driver.find_elements("css selector", ".leaflet-control-layers-overlays label")
    ]
    assert [lab.strip() for lab in labels][:2] == ["Compounds by district", "Excluded compounds"]
    assert "Legend" in driver.find_element("css selector", ".renogis-legend").text
    assert severe(driver) == []


def test_click_district_label_opens_district_popup(driver: Any, map_html: Path) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    load(driver, map_html)
    # labels are placed once the initial fit has settled: wait for D2's
    label: list[Any] = []
    deadline = time.monotonic() + 15
    while not label and time.monotonic() < deadline:
        label = [
            e
            for e in driver.find_elements("css selector", ".renogis-label div")
            if e.text.startswith("D2")
        ]
        time.sleep(0.1)
    label[0].click()
    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located(("css selector", ".leaflet-popup-content"))
    )
    text = _text(driver, popup)
    assert text.startswith("片区 D2") and "户数 620 户" in text and "小区数 4\n" in text
    assert "片区面积 36,864 m²" in text and "建筑面积 20,000 m²" in text
    assert "闲置面积 0 m²" in text and "共享边界 300 m" in text
    assert "片区内拟选址" in text and "P2 社区卫生服务站 (新覆盖户数 150 户)" in text


def test_clustered_facilities_render(
    driver: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renogis.outputs import map as maps

    monkeypatch.setattr(maps, "CLUSTER_THRESHOLD", 2)  # cluster the 3 facilities
    world = make_world()
    comp = world.pop("compounds")
    path = write_map(tmp_path / "cluster.html", comp, tiles="none", **world)
    driver.get(path.as_uri())
    time.sleep(0.3)
    assert severe(driver) == []  # MarkerCluster needs a map maxZoom even without tiles
    assert driver.execute_script(COUNT_JS)["facilities"][0] == 3


def test_city_mode_canvas_facilities_and_zoomed_labels(
    driver: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from renogis.outputs import map as maps

    monkeypatch.setattr(maps, "CANVAS_MARKER_THRESHOLD", 2)  # 3 facilities: canvas circles
    world = make_world()
    comp = world.pop("compounds")
    path = write_map(tmp_path / "city.html", comp, tiles="none", **world)
    load(driver, path)
    kinds = driver.execute_script(
        """var r = window.renogis[Object.keys(window.renogis)[0]], out = [];
        r.groups.facilities.eachLayer(function (g) { g.eachLayer(function (l) {
          out.push([l instanceof L.CircleMarker, !!l._map, l.options.fillColor]); }); });
        return out;"""
    )
    # kindergarten, clinic, elderly day care: Okabe-Ito colours by category order (K, E, C)
    assert kinds == [[True, True, "#E69F00"], [True, True, "#009E73"], [True, True, "#56B4E9"]]
    assert driver.find_elements("css selector", ".renogis-fac") == []  # no DivIcon markers
    assert driver.find_elements("css selector", ".leaflet-marker-pane .marker-cluster") == []

    def n_labels() -> int:
        return len(driver.find_elements("css selector", ".renogis-label"))

    zoom_js = "return window.renogis[Object.keys(window.renogis)[0]].map.getZoom()"
    # the initial fit to the data may still be animating: wait until the zoom holds for 0.5 s
    last, steady_since = None, time.monotonic()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = driver.execute_script(zoom_js)
        if now != last:
            last, steady_since = now, time.monotonic()
        elif time.monotonic() - steady_since > 0.5:
            break
        time.sleep(0.1)
    zoom = driver.execute_script(zoom_js)

    def labels_become(n: int) -> bool:  # labels follow zoomend: poll instead of racing it
        WebDriverWait(driver, 5).until(lambda d: n_labels() == n)
        return True

    # a 300 m world fits at a high zoom; at zoom 14 (7.9 m/px) each ~200 m district is 25 px
    # wide, narrower than its label; at 17 both fit
    assert zoom >= 17 and labels_become(2)
    driver.execute_script(
        "var m = window.renogis[Object.keys(window.renogis)[0]].map;"
        "m.setView(m.getCenter(), 14, {animate: false});"
    )
    assert labels_become(0)
    driver.execute_script(
        "var m = window.renogis[Object.keys(window.renogis)[0]].map;"
        "m.setView(m.getCenter(), 17, {animate: false});"
    )
    assert labels_become(2)

    # a click on the clinic circle opens its popup
    lat, lon = driver.execute_script(
        """var r = window.renogis[Object.keys(window.renogis)[0]], at = null;
        r.groups.facilities.eachLayer(function (g) { g.eachLayer(function (l) {
          if (l.feature.properties.i === "F2") { at = l.getLatLng(); } }); });
        return [at.lat, at.lng];"""
    )
    _click_at_latlng(driver, lat, lon)
    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located(("css selector", ".leaflet-popup-content"))
    )
    assert "F2" in _text(driver, popup) and "卫生站B" in _text(driver, popup)
    assert severe(driver) == []


# --------------------------------------------------------------------------- readability (issue 12)
LABELS_JS = """
var r = window.renogis[Object.keys(window.renogis)[0]], m = r.map;
var view = m.getBounds().pad(0.2);
return r.labels.map(function (l) {
  var p = m.latLngToContainerPoint(l.at);
  var sw = m.latLngToContainerPoint(l.bounds.getSouthWest());
  var ne = m.latLngToContainerPoint(l.bounds.getNorthEast());
  var el = l.marker._icon ? l.marker._icon.firstChild.getBoundingClientRect() : null;
  return {id: l.id, area: l.area, w: l.w, h: l.h, x: p.x, y: p.y,
          bw: Math.abs(ne.x - sw.x), bh: Math.abs(sw.y - ne.y), inView: view.contains(l.at),
          shown: !!l.marker._map,
          rect: el ? [el.left, el.top, el.right, el.bottom] : null};
});
"""


def _settle(driver: Any) -> None:
    """Wait until the map's zoom and centre hold still for 0.5 s (fitBounds may animate)."""
    js = (
        "var m = window.renogis[Object.keys(window.renogis)[0]].map, c = m.getCenter();"
        "return [m.getZoom(), c.lat, c.lng];"
    )
    last, since, deadline = None, time.monotonic(), time.monotonic() + 15
    while time.monotonic() < deadline:
        now = driver.execute_script(js)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 0.5:
            return
        time.sleep(0.1)


def _check_label_rule(labels: list[dict[str, Any]], margin: float = 2.0) -> int:
    """The label rule, restated: in order of decreasing district area (ties by id), a label in
    view is shown iff its box fits its district's on-screen box and clears every label already
    shown. Also the drawn boxes never overlap and are no larger than the boxes placed."""
    placed: list[tuple[float, float, float, float]] = []
    for lab in sorted(labels, key=lambda lab: (-lab["area"], lab["id"])):
        box = (
            lab["x"] - lab["w"] / 2 - margin,
            lab["y"] - lab["h"] / 2 - margin,
            lab["x"] + lab["w"] / 2 + margin,
            lab["y"] + lab["h"] / 2 + margin,
        )
        fits = lab["bw"] >= lab["w"] and lab["bh"] >= lab["h"]
        clear = all(
            not (box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3])
            for o in placed
        )
        want = lab["inView"] and fits and clear
        assert lab["shown"] == want, lab
        if want:
            placed.append(box)
    rects = [lab["rect"] for lab in labels if lab["shown"]]
    for lab in labels:
        if lab["shown"]:  # the measured box holds the drawn label
            left, top, right, bottom = lab["rect"]
            assert right - left <= lab["w"] + 0.5 and bottom - top <= lab["h"] + 0.5, lab
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    return len(placed)


@pytest.fixture(scope="module")
def city_html(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A synthetic city of 3,000 compounds (6 km across) in 400 m grid districts."""
    import numpy as np
    import shapely

    from renogis.datasets.synthetic import make_city

    city = make_city(3000, seed=0)
    comp = city["compounds"].copy()
    c = shapely.centroid(np.asarray(comp.geometry.values, dtype=object))
    ix = ((shapely.get_x(c) - shapely.get_x(c).min()) // 400).astype(int)
    iy = ((shapely.get_y(c) - shapely.get_y(c).min()) // 400).astype(int)
    cell = ix * 100 + iy
    codes = {v: f"D{k + 1:03d}" for k, v in enumerate(sorted(set(cell.tolist())))}
    comp["district_id"] = [codes[v] for v in cell.tolist()]
    path = write_map(
        tmp_path_factory.mktemp("city") / "city.html",
        comp,
        streets=city["streets"],
        barriers=city["barriers"],
        tiles="none",
    )
    return path, len(codes)


def test_labels_by_zoom_on_a_big_city(driver: Any, city_html: tuple[Path, int]) -> None:
    path, n_districts = city_html
    assert n_districts == 241  # the 400 m cells of a 16 x 16 grid that hold compounds
    load(driver, path)
    _settle(driver)
    zoom = driver.execute_script("return window.renogis[Object.keys(window.renogis)[0]].map.getZoom()")
    assert zoom == 13  # the whole 6.4 km city in a 1200 x 900 window
    at_start = _check_label_rule(driver.execute_script(LABELS_JS))
    # a 400 m district is 25 px wide at zoom 13 (15.7 m/px), narrower than any label (a
    # households line such as "1,234 户" alone is wider): not one of 241 labels covers the city
    assert at_start == 0
    assert driver.find_elements("css selector", ".renogis-label") == []
    counts = [at_start]
    for z in (14, 15, 16):
        driver.execute_script(
            "var m = window.renogis[Object.keys(window.renogis)[0]].map;"
            "m.setView(m.getCenter(), arguments[0], {animate: false});",
            z,
        )
        _settle(driver)
        counts.append(_check_label_rule(driver.execute_script(LABELS_JS)))
    print("labels shown at zoom 13-16:", counts)
    # zooming in, districts grow and those in view get their label where it fits
    assert counts[2] > 0 and counts[3] > 0 and max(counts) < n_districts
    assert severe(driver) == []


def _lab(hex_color: str) -> tuple[float, float, float]:
    """sRGB hex -> CIELAB (D65)."""
    rgb = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92 for c in rgb]
    m = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))
    white = (0.95047, 1.0, 1.08883)
    xyz = [sum(a * b for a, b in zip(r, lin, strict=True)) / w for r, w in zip(m, white, strict=True)]
    f = [t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in xyz]
    return (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))


def _delta_e(a: str, b: str) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(_lab(a), _lab(b), strict=True)) ** 0.5)


COLORS_JS = """
var r = window.renogis[Object.keys(window.renogis)[0]], out = {};
function hex(c) { return (typeof c === "string" && /^#[0-9a-f]{6}$/i.test(c)) ? c.toUpperCase() : null; }
Object.keys(r.groups).forEach(function (key) {
  var seen = {};
  (function walk(l) {
    if (l.getLayers) { l.getLayers().forEach(walk); return; }
    var o = l.options || {}, role = key;
    [["stroke", o.color], ["fill", o.fillColor], ["hatch", o.renogisColor]].forEach(function (c) {
      var h = hex(c[1]); if (h && (c[0] !== "fill" || o.fill !== false)) { seen[c[0] + " " + h] = 1; } });
    if (o.icon && o.icon.options && o.icon.options.html) {
      (o.icon.options.html.match(/#[0-9a-fA-F]{6}/g) || []).forEach(function (h) {
        seen["icon " + h.toUpperCase()] = 1; });
    }
  })(r.groups[key]);
  out[key] = Object.keys(seen).sort();
});
return out;
"""


def test_district_palette_disjoint_from_every_other_layer(
    driver: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geopandas as gpd
    import shapely

    from tests.outputs.test_map import CRS, X0, Y0

    world = make_world()
    comp = world.pop("compounds")
    parts = gpd.GeoDataFrame(
        {"street_id": ["S9"], "name": ["断头路"], "households": [120]},
        geometry=[shapely.LineString([(X0 + 400, Y0), (X0 + 400, Y0 + 120)])],
        crs=CRS,
    )
    from renogis.outputs import map as maps

    monkeypatch.setattr(maps, "CLUSTER_THRESHOLD", 2)  # the 3 facilities in clusters
    path = write_map(tmp_path / "colors.html", comp, tiles="none", network_parts=parts, **world)
    load(driver, path)
    driver.execute_script(  # switch every layer on (builds the lazy ones)
        "var r = window.renogis[Object.keys(window.renogis)[0]];"
        "Object.keys(r.groups).forEach(function (k) { r.map.addLayer(r.groups[k]); });"
    )
    colors = driver.execute_script(COLORS_JS)
    # facility clusters (zoom 14: the three facilities in one cluster): their CSS colours too.
    # The initial fit may still be animating: set the view until it holds and the cluster icon is drawn.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _settle(driver)
        driver.execute_script(
            "var m = window.renogis[Object.keys(window.renogis)[0]].map;"
            "m.setView(m.getCenter(), 14, {animate: false});"
        )
        _settle(driver)
        if driver.execute_script("return document.querySelectorAll('.marker-cluster').length"):
            break
        time.sleep(0.2)
    css = driver.execute_script(
        """var out = [];
        document.querySelectorAll(".marker-cluster, .marker-cluster div").forEach(function (e) {
          var s = getComputedStyle(e); out.push(s.backgroundColor, s.borderTopColor, s.color); });
        return out;"""
    )
    assert len(css) == 6  # one cluster: the ring and its disc

    def to_hex(rgb: str) -> str | None:
        v = [float(t) for t in rgb[rgb.index("(") + 1 : -1].split(",")]
        if len(v) == 4 and v[3] == 0:
            return None  # transparent
        return "#" + "".join(f"{round(c):02X}" for c in v[:3])

    colors["clusters"] = [f"css {h}" for h in map(to_hex, css) if h]
    district_fills = {c.split()[1] for c in colors["compounds"] if c.startswith("fill ")}
    assert len(district_fills) == 2  # two touching districts, two colours
    others = {c.split()[1] for key, cs in colors.items() for c in cs if key != "compounds"}
    others |= {c.split()[1] for c in colors["compounds"] if not c.startswith("fill ")}
    # every layer is there: coverage outline and hatch, categories, parcels, streets, network
    assert {"#0072B2", "#D55E00", "#8C510A", "#6A3D9A", "#555555", "#E7298A"} <= others
    assert "hatch #D55E00" in colors["gap:kindergarten"] or "hatch #D55E00" in colors["gap:clinic"]
    assert district_fills.isdisjoint(others)
    nearest = min(_delta_e(a, b) for a in district_fills for b in others)
    assert nearest >= 20.0, nearest
    # the whole palette, not just the two colours drawn, keeps clear of every layer's colours
    palette = driver.execute_script(
        "return window.renogis[Object.keys(window.renogis)[0]].data.meta.palette"
    )
    assert min(_delta_e(a, b) for a in palette for b in others) >= 20.0
    assert severe(driver) == []


def test_coverage_reads_over_the_district_fill(driver: Any, map_html: Path) -> None:
    load(driver, map_html)
    _toggle(driver, "覆盖：社区卫生服务站")
    styles = driver.execute_script(
        """var r = window.renogis[Object.keys(window.renogis)[0]], out = {};
        r.groups["gap:clinic"].eachLayer(function (g) { g.eachLayer(function (l) {
          var o = l.options;
          out[l.feature.properties.i] = [o.color, o.weight, o.fillOpacity,
            typeof o.fillColor === "string" ? o.fillColor
              : (o.fillColor instanceof CanvasPattern ? "pattern" : null)];
        }); });
        return out;"""
    )
    # clinic at the centre of C22, 250 m: C00 (283 m) and C20 (224 m? no: hypot(200, 0) = 200)
    covered = [k for k, v in styles.items() if v[0] == "#0072B2"]
    hatched = [k for k, v in styles.items() if v[3] == "pattern"]
    assert sorted(hatched) == ["C00"]  # hypot(200, 200) = 283 m > 250 m
    assert len(covered) == 8 and all(styles[k][2] == 0 for k in covered)  # outline only
    assert styles["C00"][:3] == ["#D55E00", 1.5, 1]
    assert severe(driver) == []


def test_street_names_on_hover_and_cut_off_parts(driver: Any, tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely
    from selenium.webdriver.common.action_chains import ActionChains

    from tests.outputs.test_map import CRS, X0, Y0

    world = make_world()
    comp = world.pop("compounds")
    parts = gpd.GeoDataFrame(
        {"street_id": ["S9"], "name": ["断头路"], "households": [120]},
        geometry=[shapely.LineString([(X0 + 400, Y0), (X0 + 400, Y0 + 120)])],
        crs=CRS,
    )
    path = write_map(tmp_path / "hover.html", comp, tiles="none", network_parts=parts, **world)
    load(driver, path)
    _settle(driver)
    driver.execute_script(  # zoom 17: the cut-off street 100 m east of the grid is in view
        "var m = window.renogis[Object.keys(window.renogis)[0]].map;"
        "m.setView(m.getCenter(), 17, {animate: false});"
    )
    _settle(driver)
    from pyproj import Transformer

    tr = Transformer.from_crs(CRS, 4326, always_xy=True)
    lon, lat = tr.transform(X0 + 150, Y0 - 10)  # on the arterial 建设路, between two compounds
    _click_free_move(driver, lat, lon)
    tip = driver.execute_script(
        "var t = document.querySelector('.renogis-street-tip'); return t ? t.textContent : null;"
    )
    assert tip == "建设路 · 主干路"
    lon, lat = tr.transform(X0 + 200, Y0 + 50)  # the unnamed local lane: its class only
    _click_free_move(driver, lat, lon)
    assert driver.execute_script(
        "return document.querySelector('.renogis-street-tip').textContent"
    ) == "支路"
    # the cut-off street: its own layer, with its length and who is stranded
    assert driver.execute_script(COUNT_JS)["network_parts"] == [1, 1]
    lon, lat = tr.transform(X0 + 400, Y0 + 60)
    _click_at_latlng(driver, lat, lon)
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located(("css selector", ".leaflet-popup-content"))
    )
    text = _text(driver, popup)
    assert "不连通道路" in text and "断头路" in text and "长度 120 m" in text and "户数 120 户" in text
    legend = driver.find_element("css selector", ".renogis-legend").text
    assert "步行网络不连通部分" in legend
    assert severe(driver) == []
    del ActionChains


def _click_free_move(driver: Any, lat: float, lon: float) -> None:
    """Move the mouse to a point of the map (no click) and wait for the hover to be handled."""
    from selenium.webdriver.common.action_chains import ActionChains

    map_el = driver.find_element("css selector", ".folium-map")
    x, y = driver.execute_script(
        "var r = window.renogis[Object.keys(window.renogis)[0]];"
        "var p = r.map.latLngToContainerPoint([arguments[0], arguments[1]]); return [p.x, p.y];",
        lat,
        lon,
    )
    w, h = map_el.size["width"], map_el.size["height"]
    ActionChains(driver).move_to_element_with_offset(
        map_el, int(x - w / 2), int(y - h / 2)
    ).perform()
    driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "requestAnimationFrame(function () { requestAnimationFrame(function () { done(); }); });"
    )


def test_duplicate_names_get_ids_in_search(driver: Any, tmp_path: Path) -> None:
    world = make_world()
    comp = world.pop("compounds")
    comp.loc[[0, 1], "name"] = "幸福小区"
    load(driver, write_map(tmp_path / "dup.html", comp, tiles="none"))
    search = driver.execute_script(
        "return window.renogis[Object.keys(window.renogis)[0]].data.compounds.features"
        ".slice(0, 3).map(function (f) { return f.properties.s; })"
    )
    assert search == ["幸福小区 (C00)", "幸福小区 (C01)", "小区02"]


def test_site_popup_shows_capacity_with_units(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    world = make_world()
    comp = world.pop("compounds")
    world["siting"] = world["siting"].assign(
        capacity=[120.4],
        capacity_unit=["m2"],
        capacity_households=[412.6],
        facility_area_m2=[120.0],
        shortfall_after=[35.2],
    )
    load(driver, write_map(tmp_path / "site.html", comp, tiles="none", **world))
    _settle(driver)
    lat, lon = _feature_centre(driver, "siting", "i", "P2")
    _click_at_latlng(driver, lat, lon)
    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located(("css selector", ".leaflet-popup-content"))
    )
    text = _text(driver, popup)
    assert "新覆盖户数 150 户" in text and "累计覆盖率 80%" in text
    assert "规模 120 m²" in text and "可服务户数 413 户" in text
    assert "设施占用面积 120 m²" in text and "选址后缺口 35 m²" in text
    assert severe(driver) == []
