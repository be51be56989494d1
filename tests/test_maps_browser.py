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

from renogis.maps import write_map
from tests.test_maps import make_world

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
        "streets": [4, 4],  # one feature per street class
        "barriers": [2, 2],
    }
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('.renogis-label')).map(e => e.textContent)"
    )
    assert sorted(labels) == ["D1480 户", "D2620 户"]
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
    assert styles == [
        [0, 3, "#777777", False],
        [1, 2, "#999999", False],
        [2, 1.2, "#AAAAAA", False],
        [3, 0.8, "#BBBBBB", False],
    ]
    _toggle(driver, "道路")
    assert driver.execute_script(COUNT_JS)["streets"] == [4, 0]
    _toggle(driver, "道路")
    assert driver.execute_script(COUNT_JS)["streets"] == [4, 4]
    _toggle(driver, "河流与障碍")
    assert driver.execute_script(COUNT_JS)["barriers"] == [2, 0]
    legend = driver.find_element("css selector", ".renogis-legend").text
    assert "道路" in legend and "河流与障碍" in legend
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
    assert "户数 110" in text and "片区 D1" in text and "建成年份 1990" in text
    assert "社区卫生服务站 224 ✓" in text and "幼儿园 100 ✓" in text
    assert "片区设施缺口" in text
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
    label = [
        e
        for e in driver.find_elements("css selector", ".renogis-label div")
        if e.text.startswith("D2")
    ]
    label[0].click()
    popup = WebDriverWait(driver, 5).until(
        ec.visibility_of_element_located(("css selector", ".leaflet-popup-content"))
    )
    assert _text(driver, popup).startswith("片区 D2") and "户数 620" in _text(driver, popup)
    assert "片区内拟选址" in _text(driver, popup) and "P2 社区卫生服务站 (新覆盖户数 150)" in _text(driver, popup)


def test_clustered_facilities_render(
    driver: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renogis import maps

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

    from renogis import maps

    monkeypatch.setattr(maps, "CANVAS_MARKER_THRESHOLD", 2)  # 3 facilities: canvas circles
    monkeypatch.setattr(maps, "LABEL_ALL_MAX", 1)  # 2 districts: labels from zoom 15 up
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

    assert zoom >= 15 and labels_become(2)  # a 300 m world fits at a high zoom
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
