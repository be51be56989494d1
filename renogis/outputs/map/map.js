// Builds the layers of a renogis planning map in the browser, from the data the map's HTML embeds
// (one <script type="application/json">): compounds, districts and their labels, coverage and
// service areas, idle parcels, proposed sites, facilities, streets, barriers; legend and controls.
//
// renogis/outputs/map/__init__.py inlines this file into the map's HTML: it drops these header
// lines and replaces RENOGIS_MAP_NAME (the Leaflet map's variable), RENOGIS_GROUPS (an object
// literal: layer key -> folium FeatureGroup variable) and RENOGIS_DATA_ID (the id of the data
// element). Leaflet (L) and its plugins are inlined before it. Texts come from text.json via
// the embedded data (meta.text). Keep it free of Jinja delimiters (two opening braces, brace +
// percent, brace + hash): folium renders the page through Jinja.
(function () {
  var map = RENOGIS_MAP_NAME;
  var G = RENOGIS_GROUPS;
  var D = JSON.parse(document.getElementById("RENOGIS_DATA_ID").textContent);
  var M = D.meta, T = M.text, CAT = M.categories, U = T.units;
  var renderer = L.canvas({padding: 0.5});
  // context (barriers, streets) in their own panes below the overlay pane: they stay under the
  // compounds whatever is toggled, and never take clicks
  function contextRenderer(name, z) {
    var pane = map.createPane(name);
    pane.style.zIndex = z; pane.style.pointerEvents = "none";
    return L.canvas({padding: 0.5, pane: name});
  }
  if (!isFinite(map.getMaxZoom())) { map.setMaxZoom(20); }  // no tiles: MarkerCluster needs it
  var reg = window.renogis = window.renogis || {};
  var R = reg["RENOGIS_MAP_NAME"] = {map: map, groups: G, data: D, built: {}};
  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; });
  }
  function missing(v) { return v === null || v === undefined || (typeof v === "number" && isNaN(v)); }
  // numbers: rounded, thousands grouped, with their unit
  function num(v, d) {
    if (missing(v)) { return null; }
    var parts = Number(v).toFixed(d || 0).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }
  function withUnit(v, unit) { var s = num(v, 0); return s === null ? null : s + (unit ? " " + unit : ""); }
  function hh(v) { return withUnit(v, U.households); }
  function m2(v) { return withUnit(v, "m²"); }
  function metres(v) { return withUnit(v, "m"); }
  function pct(v) { return missing(v) ? null : Math.round(v * 100) + "%"; }
  function val(v) { return missing(v) ? "–" : esc(v); }
  function row(k, v) { return "<tr><th>" + esc(k) + "</th><td>" + val(v) + "</td></tr>"; }
  function catName(i) { return (i >= 0 && i < CAT.length) ? CAT[i].label : "?"; }
  function catColor(i) { return (i >= 0 && i < CAT.length) ? CAT[i].color : "#777777"; }
  // a hatch pattern (canvas fillStyle) that lets the district fill show through
  var hatches = {};
  function hatch(color) {
    if (hatches[color]) { return hatches[color]; }
    var c = document.createElement("canvas"); c.width = c.height = 8;
    var x = c.getContext("2d");
    x.strokeStyle = color; x.lineWidth = 2; x.beginPath();
    x.moveTo(0, 8); x.lineTo(8, 0); x.moveTo(-2, 2); x.lineTo(2, -2); x.moveTo(6, 10); x.lineTo(10, 6);
    x.stroke();
    hatches[color] = c.getContext("2d").createPattern(c, "repeat");
    return hatches[color];
  }
  R.hatch = hatch;
  // search text: the name, with the id when several compounds share it (made here, not
  // shipped: it would repeat the name of every compound in the file)
  var nameCount = {};
  D.compounds.features.forEach(function (f) {
    var n = f.properties.n; nameCount[n] = (nameCount[n] || 0) + 1; });
  D.compounds.features.forEach(function (f) {
    var p = f.properties; p.s = nameCount[p.n] > 1 ? p.n + " (" + p.i + ")" : p.n; });
  var districtById = {};
  D.districts.features.forEach(function (f) { districtById[f.properties.i] = f.properties; });

  function districtRows(d) {
    var h = "";
    if (d.g && d.g.length) {
      h += "<tr><th colspan=2>" + esc(T.gaps) + "</th></tr><tr><td colspan=2><table><tr><th>" +
        esc(T.category) + "</th><th>" + esc(T.coverage) + "</th><th>" + esc(T.uncovered) +
        "</th><th>" + esc(T.shortfall) + "</th></tr>";
      d.g.forEach(function (g) {
        h += "<tr><td>" + esc(catName(g[0])) + "</td><td class=num>" + val(pct(g[1])) +
          "</td><td class=num>" + val(hh(g[2])) + "</td><td class=num>" +
          val(withUnit(g[5], g[6] ? (U[g[6]] || g[6]) : "")) + "</td></tr>"; });
      h += "</table></td></tr>";
    }
    if (d.st && d.st.length) {
      h += "<tr><th colspan=2>" + esc(T.sites) + "</th></tr>";
      d.st.forEach(function (s) {
        h += "<tr><td>" + esc(s[0]) + "</td><td>" + esc(catName(s[1])) + " (" + esc(T.newly) +
          " " + val(hh(s[2])) + ")</td></tr>"; });
    }
    return h;
  }
  function compoundPopup(p) {
    var h = "<div class='renogis-popup'><b>" + esc(p.n) + "</b><table>" + row(T.id, p.i) +
      row(T.households, hh(p.h)) + row(T.buildings, num(p.b)) + row(T.floor_area, m2(p.a)) +
      row(T.year, p.y) + row(T.district, p.d);
    if (p.r) { h += row(T.reason, p.r); }
    if (p.ds || p.w) {
      h += "<tr><td colspan=2><table><tr><th>" + esc(T.category) + "</th><th>" + esc(T.distance) +
        "</th><th>" + esc(T.within) + "</th>" + (p.u ? "<th>" + esc(T.uncovered) + "</th>" : "") +
        "</tr>";
      CAT.forEach(function (c, k) {
        var w = p.w ? p.w[k] : null;
        h += "<tr><td>" + esc(c.label) + "</td><td class=num>" + val(metres(p.ds ? p.ds[k] : null)) +
          "</td><td>" + (w === 1 ? "✓" : (w === 0 ? "✗" : "–")) + "</td>" +
          (p.u ? "<td class=num>" + val(hh(p.u[k])) + "</td>" : "") + "</tr>"; });
      h += "</table></td></tr>";
    }
    if (p.d && districtById[p.d]) { h += districtRows(districtById[p.d]); }
    return h + "</table></div>";
  }
  function compoundTooltip(p) {
    return "<b>" + esc(p.n) + "</b><br>" + val(hh(p.h)) +
      (p.r ? "<br>" + esc(T.reason) + ": " + esc(p.r) : "");
  }
  function bindCompound(f, layer) {
    layer.bindTooltip(compoundTooltip(f.properties), {sticky: true});
    layer.bindPopup(function () { return compoundPopup(f.properties); }, {maxWidth: 420});
  }
  function geo(fc, opts) {
    opts.renderer = renderer;
    return L.geoJson(fc, opts);
  }
  var built = R.built;
  function lazy(key, make) {
    var fg = G[key];
    var build = function () {
      if (built[key]) { return; }
      built[key] = true;
      make().addTo(fg);
    };
    if (map.hasLayer(fg)) { build(); } else { fg.once("add", build); }
  }

  if (G.barriers) {
    var barrierRenderer = contextRenderer("renogis-barriers", 340);
    L.geoJson(D.barriers, {
      renderer: barrierRenderer, interactive: false,
      style: function (f) {
        var st = M.barrier_styles[f.properties.k] || M.barrier_styles[0], o = {};
        Object.keys(st).forEach(function (k) { o[k] = st[k]; });
        var t = f.geometry.type;
        o.fill = t === "Polygon" || t === "MultiPolygon";
        return o; }}).addTo(G.barriers);
    built.barriers = true;
  }
  function streetLabel(p) {
    var cls = T.street_classes[p.k] || T.street;
    return p.n ? "<b>" + esc(p.n) + "</b> · " + esc(cls) : esc(cls);
  }
  if (G.streets) {
    var streetRenderer = contextRenderer("renogis-streets", 350);
    L.geoJson(D.streets, {
      renderer: streetRenderer, interactive: false,
      style: function (f) {
        return M.street_styles[f.properties.k] || M.street_styles[2]; }}).addTo(G.streets);
    built.streets = true;
    // hover: the streets lie below the compounds and take no events, so the map looks up the
    // street nearest the pointer (within its half width + 4 px) in a grid of segments
    var grid = null, CELL = 0.002, streetTip = L.tooltip({direction: "top", offset: [0, -6],
      className: "renogis-street-tip"});
    var buildGrid = function () {
      grid = {};
      D.streets.features.forEach(function (f, fi) {
        var g = f.geometry, lines = g.type === "LineString" ? [g.coordinates] : g.coordinates;
        lines.forEach(function (line) {
          for (var i = 0; i + 1 < line.length; i++) {
            var a = line[i], b = line[i + 1];
            var x0 = Math.floor(Math.min(a[0], b[0]) / CELL), x1 = Math.floor(Math.max(a[0], b[0]) / CELL);
            var y0 = Math.floor(Math.min(a[1], b[1]) / CELL), y1 = Math.floor(Math.max(a[1], b[1]) / CELL);
            for (var x = x0; x <= x1; x++) {
              for (var y = y0; y <= y1; y++) {
                var key = x + "," + y;
                (grid[key] = grid[key] || []).push([fi, a, b]); } } } }); });
    };
    var streetAt = function (latlng) {
      if (!grid) { buildGrid(); }
      var p = map.latLngToContainerPoint(latlng);
      var far = map.containerPointToLatLng([p.x + 12, p.y + 12]);
      var dx = Math.abs(far.lng - latlng.lng), dy = Math.abs(far.lat - latlng.lat);
      var best = null, bestD = Infinity, seen = {};
      for (var x = Math.floor((latlng.lng - dx) / CELL); x <= Math.floor((latlng.lng + dx) / CELL); x++) {
        for (var y = Math.floor((latlng.lat - dy) / CELL); y <= Math.floor((latlng.lat + dy) / CELL); y++) {
          (grid[x + "," + y] || []).forEach(function (s) {
            var a = map.latLngToContainerPoint([s[1][1], s[1][0]]);
            var b = map.latLngToContainerPoint([s[2][1], s[2][0]]);
            var d = L.LineUtil.pointToSegmentDistance(p, a, b);
            var f = D.streets.features[s[0]], st = M.street_styles[f.properties.k] || M.street_styles[2];
            if (d <= st.weight / 2 + 4 && d < bestD) { bestD = d; best = f; } }); } }
      return best;
    };
    R.streetAt = streetAt;
    var pending = null, scheduled = false;
    map.on("mousemove", function (e) {
      pending = e.latlng;
      if (scheduled) { return; }
      scheduled = true;
      L.Util.requestAnimFrame(function () {
        var at = pending;
        scheduled = false;
        var f = (map.getZoom() >= M.street_hover_zoom && map.hasLayer(G.streets)) ? streetAt(at) : null;
        if (f) { streetTip.setLatLng(at).setContent(streetLabel(f.properties));
                 if (!map.hasLayer(streetTip)) { streetTip.addTo(map); } }
        else if (map.hasLayer(streetTip)) { map.removeLayer(streetTip); }
      });
    });
    map.on("mouseout zoomstart", function () {
      if (map.hasLayer(streetTip)) { map.removeLayer(streetTip); } });
  }

  var searchLayers = [];
  if (G.compounds) {
    var comp = geo(D.compounds, {
      filter: function (f) { return !M.has_districts || f.properties.d !== null && f.properties.d !== undefined; },
      style: function (f) {
        var c = f.properties.c;
        return {color: M.compound_edge, weight: 0.6, fillOpacity: 0.75,
                fillColor: (c === null || c === undefined) ? M.neutral : M.palette[c % M.palette.length]};
      },
      onEachFeature: bindCompound});
    comp.addTo(G.compounds); built.compounds = true; searchLayers.push(comp);
  }
  if (G.excluded) {
    var excl = geo(D.compounds, {
      filter: function (f) { return f.properties.d === null || f.properties.d === undefined; },
      style: function () { return {color: M.compound_edge, weight: 0.8, dashArray: "3 3", fillOpacity: 0.6,
                                   fillColor: M.excluded}; },
      onEachFeature: bindCompound});
    excl.addTo(G.excluded); built.excluded = true; searchLayers.push(excl);
  }
  CAT.forEach(function (c, k) {
    if (G["gap:" + c.key]) {
      // coverage reads over the district fill: covered = blue outline, not covered = hatched,
      // no data = dotted grey outline; the fill below stays visible
      lazy("gap:" + c.key, function () {
        return geo(D.compounds, {
          style: function (f) {
            var w = f.properties.w ? f.properties.w[k] : null;
            if (w === 1) { return {color: M.covered, weight: 2.5, fill: true, fillOpacity: 0,
                                   renogisColor: M.covered}; }
            if (w === 0) { return {color: M.uncovered, weight: 1.5, fill: true, fillOpacity: 1,
                                   fillColor: hatch(M.uncovered), renogisColor: M.uncovered}; }
            return {color: M.nodata, weight: 1.5, dashArray: "2 3", fill: true, fillOpacity: 0,
                    renogisColor: M.nodata}; },
          onEachFeature: bindCompound});
      });
    }
    if (G["service:" + c.key]) {
      lazy("service:" + c.key, function () {
        return geo(D.service_areas, {
          filter: function (f) { return f.properties.k === k; },
          style: function () { return {color: c.color, weight: 2, dashArray: "6 4", fillColor: c.color,
                                       fillOpacity: 0.06}; },
          onEachFeature: function (f, layer) {
            layer.bindTooltip(esc(c.label) + " · " + esc(T.radius) + " " + val(metres(f.properties.r))); }});
      });
    }
  });
  if (G.parcels) {
    geo(D.parcels, {
      style: function (f) { var col = M.parcel_colors[f.properties.k] || M.parcel_colors.vacant_land;
        return {color: col, weight: 2, dashArray: "4 2", fillColor: col, fillOpacity: 0.45}; },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip(esc(T[p.k] || p.k || "") + " · " + val(m2(p.a)), {sticky: true});
        layer.bindPopup("<div class='renogis-popup'><table>" + row(T.id, p.i) + row(T.kind, T[p.k] || p.k) +
          row(T.area, m2(p.a)) + row(T.floor_area, m2(p.fa)) + "</table></div>");
      }}).addTo(G.parcels);
    built.parcels = true;
  }
  if (G.siting) {
    geo(D.siting, {
      style: function (f) { var col = catColor(f.properties.k);
        return {color: "#000000", weight: 3, fillColor: col, fillOpacity: 0.8}; },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip(esc(T.proposed) + ": " + esc(catName(p.k)) + " (" + esc(T.newly) + " " +
          val(hh(p.nc)) + ")", {sticky: true});
        layer.bindPopup("<div class='renogis-popup'><table>" + row(T.id, p.i) + row(T.category, catName(p.k)) +
          row(T.newly, hh(p.nc)) + row(T.cumulative, pct(p.cc)) +
          (missing(p.cap) ? "" : row(T.capacity, withUnit(p.cap, U[p.cu] || p.cu || ""))) +
          (missing(p.ch) ? "" : row(T.serves, hh(p.ch))) +
          (missing(p.fa) ? "" : row(T.facility_area, m2(p.fa))) +
          (missing(p.sa) ? "" : row(T.shortfall_after, withUnit(p.sa, U[p.cu] || p.cu || ""))) +
          "</table></div>");
      }}).addTo(G.siting);
    built.siting = true;
  }
  if (G.network_parts) {
    var ns = M.network_style, nso = {};
    Object.keys(ns).forEach(function (k) { nso[k] = ns[k]; });
    nso.fillColor = ns.color; nso.fillOpacity = 0.2;
    geo(D.network_parts, {
      style: function () { return nso; },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        var tip = esc(T.network_part) + (p.n ? " " + esc(p.n) : "") + (p.i ? " (" + esc(p.i) + ")" : "") +
          " · " + val(metres(p.l)) + (missing(p.h) ? "" : " · " + val(hh(p.h)));
        layer.bindTooltip(tip, {sticky: true});
        layer.bindPopup("<div class='renogis-popup'><b>" + esc(T.network_part) + "</b><table>" +
          row(T.id, p.i) + row(T.name, p.n) + row(T.length, metres(p.l)) +
          (missing(p.h) ? "" : row(T.households, hh(p.h))) +
          (missing(p.nc) ? "" : row(T.n_compounds, num(p.nc))) + "</table></div>");
      }}).addTo(G.network_parts);
    built.network_parts = true;
  }
  var onTop = [];  // canvas layers kept above the compounds when a layer is switched on
  if (G.districts) {
    // labels are DivIcon markers placed only where they fit (see placeLabels)
    var labels = [];
    var measure = document.createElement("canvas").getContext("2d");
    measure.font = M.label_font;
    var outlines = geo(D.districts, {
      style: function () { return {color: M.outline, weight: 2.5, fill: false}; },
      interactive: false,  // clicks reach the compounds; the label opens the district popup
      onEachFeature: function (f, layer) {
        var p = f.properties;
        var at = p.lp ? L.latLng(p.lp[0], p.lp[1]) : layer.getBounds().getCenter();
        var l1 = p.i, l2 = hh(p.h) || "";
        var label = L.marker(at, {icon: L.divIcon({className: "renogis-label", iconSize: null,
          html: "<div>" + esc(l1) + (l2 ? "<br>" + esc(l2) : "") + "</div>"}),
          keyboard: false, riseOnHover: true, zIndexOffset: 1000});
        label.bindPopup(function () {
          return "<div class='renogis-popup'><b>" + esc(T.district) + " " + esc(p.i) + "</b><table>" +
            row(T.n_compounds, num(p.n)) + row(T.households, hh(p.h)) + row(T.buildings, num(p.b)) +
            row(T.district_area, m2(p.ar)) + row(T.floor_area, m2(p.a)) + row(T.idle_area, m2(p.ia)) +
            row(T.wall_m, metres(p.wm)) +
            (p.f ? row(T.flags, p.f) : "") + (p.rs ? row(T.reason, p.rs) : "") +
            districtRows(p) + "</table></div>"; }, {maxWidth: 420});
        // label box in px: text (measured in the label font) + padding 2 x 4 + border 2 x 1
        var w = Math.ceil(Math.max(measure.measureText(l1).width, measure.measureText(l2).width)) + 10;
        var h = (l2 ? 30 : 15) + 4;
        labels.push({marker: label, at: at, bounds: layer.getBounds(), w: w, h: h,
                     area: p.ar || 0, id: p.i});
      }}).addTo(G.districts);
    onTop.push(outlines);
    // larger districts claim their label place first (ties by id)
    labels.sort(function (a, b) { return (b.area - a.area) || (a.id < b.id ? -1 : (a.id > b.id ? 1 : 0)); });
    var labelGroup = L.layerGroup().addTo(G.districts);
    // show a label only where it fits: inside its district's on-screen box, clear of every
    // label already placed (a grid of 64 px cells finds the neighbours)
    var placeLabels = function () {
      var view = map.getBounds().pad(0.2), size = map.getSize(), gap = M.label_margin;
      var cells = {}, shown = 0;
      labels.forEach(function (l) {
        var want = false;
        if (view.contains(l.at)) {
          var sw = map.latLngToContainerPoint(l.bounds.getSouthWest());
          var ne = map.latLngToContainerPoint(l.bounds.getNorthEast());
          if (Math.abs(ne.x - sw.x) >= l.w && Math.abs(sw.y - ne.y) >= l.h) {
            var p = map.latLngToContainerPoint(l.at);
            var box = [p.x - l.w / 2 - gap, p.y - l.h / 2 - gap, p.x + l.w / 2 + gap, p.y + l.h / 2 + gap];
            var x0 = Math.floor(box[0] / 64), x1 = Math.floor(box[2] / 64);
            var y0 = Math.floor(box[1] / 64), y1 = Math.floor(box[3] / 64), clear = true, x, y;
            for (x = x0; x <= x1 && clear; x++) { for (y = y0; y <= y1 && clear; y++) {
              (cells[x + "," + y] || []).forEach(function (o) {
                if (box[0] < o[2] && o[0] < box[2] && box[1] < o[3] && o[1] < box[3]) { clear = false; }
              }); } }
            if (clear) {
              want = true;
              for (x = x0; x <= x1; x++) { for (y = y0; y <= y1; y++) {
                (cells[x + "," + y] = cells[x + "," + y] || []).push(box); } }
            }
          }
        }
        if (want) { shown += 1; }
        if (want !== labelGroup.hasLayer(l.marker)) {
          if (want) { labelGroup.addLayer(l.marker); } else { labelGroup.removeLayer(l.marker); } }
      });
      R.labelsShown = shown;
    };
    R.placeLabels = placeLabels; R.labels = labels;
    map.on("moveend zoomend", placeLabels);
    map.whenReady(placeLabels);
    built.districts = true;
  }
  function facilityTooltip(layer) {
    var p = layer.feature.properties;
    return esc(catName(p.k)) + (p.n ? " · " + esc(p.n) : "");
  }
  function facilityPopup(layer) {
    var p = layer.feature.properties;
    return "<div class='renogis-popup'><table>" + row(T.id, p.i) + row(T.name, p.n) +
      row(T.category, catName(p.k)) + row(T.capacity, num(p.cap)) + "</table></div>";
  }
  if (G.facilities) {
    var fac = L.geoJson(D.facilities, {
      pointToLayer: function (f, latlng) {
        var k = f.properties.k;
        if (M.canvas_markers) {  // many facilities: circles on the shared canvas
          return L.circleMarker(latlng, {renderer: renderer, radius: 5, color: "#333333", weight: 1,
            fillColor: catColor(k), fillOpacity: 0.9});
        }
        return L.marker(latlng, {icon: L.divIcon({className: "renogis-fac", iconSize: [20, 20],
          html: "<span style='background:" + catColor(k) + "'>" + esc(k >= 0 ? CAT[k].glyph : "?") +
                "</span>"})});
      },
      onEachFeature: M.canvas_markers ? null : function (f, layer) {
        layer.bindTooltip(facilityTooltip); layer.bindPopup(facilityPopup); }});
    if (M.canvas_markers) {
      // one tooltip and popup for the whole group (it is on the map): no 2 x 16,000 bindings
      fac.bindTooltip(facilityTooltip).bindPopup(facilityPopup);
      fac.addTo(G.facilities); onTop.push(fac);
    } else if (M.cluster) {
      var cl = L.markerClusterGroup({disableClusteringAtZoom: 17, chunkedLoading: true});
      cl.addLayer(fac); cl.addTo(G.facilities);
    } else { fac.addTo(G.facilities); }
    built.facilities = true;
  }

  if (onTop.length) {
    map.on("overlayadd", function () {
      onTop.forEach(function (l) { if (map.hasLayer(l)) { l.bringToFront(); } }); });
  }

  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "renogis-legend");
    var h = "<b>" + esc(T.legend) + "</b><br>";
    if (G.compounds && M.has_districts) {
      h += M.palette.slice(0, Math.max(1, Math.min(M.palette.length, M.n_colors))).map(function (c) {
        return "<i style='background:" + c + "'></i>"; }).join("") + " " + esc(T.neighbours) + "<br>";
    }
    if (G.excluded) {
      h += "<i style='background:" + M.excluded + ";border-style:dashed'></i>" + esc(T.excluded) + "<br>"; }
    if (G.districts) {
      h += "<i style='background:none;border:2px solid " + M.outline + "'></i>" + esc(T.districts) + "<br>"; }
    if (G.parcels) {
      Object.keys(M.parcel_colors).forEach(function (k) {
        h += "<i style='background:" + M.parcel_colors[k] + ";opacity:.7;border:2px dashed " +
          M.parcel_colors[k] + "'></i>" + esc(T[k]) + "<br>"; });
    }
    if (M.has_gaps) {
      h += "<i style='background:none;border:2px solid " + M.covered + "'></i>" + esc(T.covered) +
        " <i style='border:1px solid " + M.uncovered + ";background:repeating-linear-gradient(-45deg," +
        M.uncovered + " 0 2px,transparent 2px 5px)'></i>" + esc(T.not_covered) +
        " <i style='background:none;border:1px dotted " + M.nodata + "'></i>" + esc(T.no_data) + "<br>";
    }
    if (G.siting) { h += "<i style='background:#fff;border:3px solid #000'></i>" + esc(T.siting) + "<br>"; }
    CAT.forEach(function (c) {
      if (c.facilities && M.canvas_markers) {
        h += "<i style='width:10px;border-radius:6px;background:" + c.color + "'></i>" +
          esc(c.label) + "<br>";
      } else if (c.facilities) {
        h += "<span class='renogis-fac'><span style='display:inline-block;background:" + c.color + "'>" +
          esc(c.glyph) + "</span></span> " + esc(c.label) + "<br>"; }
    });
    if (G.streets) {
      M.street_styles.forEach(function (st, k) {
        h += "<i class=line style='border-top:" + Math.max(1, Math.round(st.weight)) + "px " +
          (st.dashArray ? "dashed " : "solid ") + st.color + "'></i>" + esc(T.street_classes[k]) + "<br>"; });
    }
    if (G.network_parts) {
      h += "<i class=line style='border-top:3px dotted " + M.network_style.color + "'></i>" +
        esc(T.network_parts) + "<br>"; }
    if (G.barriers) {
      h += "<i style='background:" + M.barrier_styles[0].fillColor + ";border-color:" +
        M.barrier_styles[0].color + "'></i>" + esc(T.barriers) + "<br>"; }
    div.innerHTML = h;
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  legend.addTo(map);

  var title = L.control({position: "topright"});
  title.onAdd = function () {
    var div = L.DomUtil.create("div", "renogis-title");
    div.textContent = M.title; return div; };
  title.addTo(map);

  L.control.fullscreen({position: "topleft", title: T.fullscreen, titleCancel: T.exit_fullscreen}).addTo(map);
  if (searchLayers.length) {
    var search = new L.Control.Search({
      layer: L.layerGroup(searchLayers), propertyName: "s", marker: false, initial: false,
      position: "topleft", textPlaceholder: T.search, textErr: T.not_found, collapsed: false,
      moveToLocation: function (latlng, title, m) {
        m.fitBounds(latlng.layer.getBounds(), {maxZoom: 18, animate: false});
        latlng.layer.openPopup(); }});
    map.addControl(search);
  }
  map.fitBounds(M.bounds);
})();
