// DealWatch: the attention chart, drawn with uPlot (vendored in static/vendor, see scripts/vendor-js.sh).
// Data: the JSON in #chart-data (the same as /api/histogram). One colour per query (CSS .series-N),
// bars for one query, lines to compare several; count or share of all archived articles (radio buttons,
// kept in the URL as chart=share); drag across it to set from/to (the page reloads with them in the URL),
// double-click to drop them; a tooltip names the interval and each query's numbers; download as PNG.
(function () {
  "use strict";
  var el = document.getElementById("chart");
  var dataEl = document.getElementById("chart-data");
  if (!el || !dataEl || typeof uPlot === "undefined") return;
  var data = JSON.parse(dataEl.textContent);
  var buckets = data.buckets;
  if (!buckets.length) return;

  var DAY = 86400;
  var starts = buckets.map(function (b) { return Date.parse(b.start) / 1000; });
  var ends = buckets.map(function (b) { return Date.parse(b.end) / 1000; });
  var single = data.series.length === 1;
  var mode = el.dataset.mode === "share" ? "share" : "count";

  function colour(i) {
    var probe = document.createElement("span");
    probe.className = "swatch series-" + (i % 4);
    probe.hidden = true;
    document.body.appendChild(probe);
    var c = getComputedStyle(probe).backgroundColor;
    probe.remove();
    return c;
  }
  var colours = data.series.map(function (_s, i) { return colour(i); });

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function day(ts) {  // seconds -> YYYY-MM-DD in UTC
    var d = new Date(ts * 1000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }
  function intervalLabel(i) {
    var d = new Date(starts[i] * 1000), iso = day(starts[i]);
    switch (data.interval) {
      case "hour": return iso + " " + pad(d.getUTCHours()) + ":00 UTC";
      case "week": return "week of " + iso;
      case "month": return iso.slice(0, 7);
      case "year": return iso.slice(0, 4);
      default: return iso;
    }
  }
  function values(s) {
    return mode === "share" ? s.shares.map(function (x) { return x * 100; }) : s.counts;
  }
  function fmtShare(x) { return (x * 100).toFixed(x < 0.1 ? 1 : 0) + " %"; }

  function yLabel() {
    return mode === "share" ? "share of all archived (%)" : "articles per " + data.unit;
  }
  function tickLabel(ts) {  // dates as the rest of the app writes them (ISO, UTC)
    var iso = day(ts);
    switch (data.interval) {
      case "hour": return iso.slice(5) + " " + pad(new Date(ts * 1000).getUTCHours()) + ":00";
      case "month": return iso.slice(0, 7);
      case "year": return iso.slice(0, 4);
      default: return iso;
    }
  }
  function xSplits(u) {  // ticks on interval starts, as many as fit (about one per 90 px)
    var room = Math.max(1, Math.floor(u.bbox.width / (window.devicePixelRatio || 1) / 90));
    var step = Math.max(1, Math.ceil(starts.length / room));
    return starts.filter(function (_t, i) { return i % step === 0; });
  }

  var tooltip = document.createElement("div");
  tooltip.className = "chart-tooltip";
  tooltip.setAttribute("aria-hidden", "true");
  tooltip.hidden = true;

  function showTooltip(u) {
    var i = u.cursor.idx;
    if (i == null || u.cursor.left < 0) { tooltip.hidden = true; return; }
    tooltip.textContent = "";
    var head = document.createElement("strong");
    head.textContent = intervalLabel(i);
    tooltip.appendChild(head);
    data.series.forEach(function (s, k) {
      var line = document.createElement("div");
      var sw = document.createElement("span");
      sw.className = "swatch series-" + (k % 4);
      line.appendChild(sw);
      line.appendChild(document.createTextNode(" " + s.label + ": " + s.counts[i] + " article" +
        (s.counts[i] === 1 ? "" : "s") + " (" + fmtShare(s.shares[i]) + ")"));
      tooltip.appendChild(line);
    });
    var all = document.createElement("div");
    all.className = "muted";
    all.textContent = buckets[i].archived + " archived in all";
    tooltip.appendChild(all);
    tooltip.hidden = false;
    var x = u.valToPos(starts[i], "x") + u.over.offsetLeft;
    var wide = el.clientWidth;
    tooltip.style.left = Math.min(Math.max(0, x + 12), wide - tooltip.offsetWidth - 4) + "px";
    tooltip.style.top = (u.over.offsetTop + 8) + "px";
  }

  function navigate(change) {  // all state lives in the URL: set or drop from/to, back to page 1
    var params = new URLSearchParams(window.location.search);
    change(params);
    params.delete("page");
    var qs = params.toString();
    window.location.assign(window.location.pathname + (qs ? "?" + qs : ""));
  }

  function bucketAt(ts) {
    for (var i = 0; i < starts.length; i++) if (ts < ends[i]) return i;
    return starts.length - 1;
  }

  function onSelect(u) {
    var sel = u.select;
    if (sel.width < 3) return;  // a click, not a drag
    var a = bucketAt(Math.max(u.posToVal(sel.left, "x"), starts[0]));
    var b = bucketAt(u.posToVal(sel.left + sel.width, "x"));
    var from = day(starts[a]), to = day(ends[b] - 1);
    navigate(function (p) { p.set("from", from); p.set("to", to); });
  }

  function options(width) {
    var series = [{}].concat(data.series.map(function (s, k) {
      var o = {label: s.label, stroke: colours[k], width: 2, points: {show: !single, size: 5, fill: colours[k]},
               value: function (_u, v) { return v == null ? "" : mode === "share" ? v.toFixed(1) + " %" : v; }};
      if (single) {
        o.fill = colours[k].replace("rgb(", "rgba(").replace(")", ", 0.75)");
        o.paths = uPlot.paths.bars({size: [0.85, 80], align: 1});
        o.width = 1;
      }
      return o;
    }));
    return {
      width: width, height: 240,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      legend: {show: false},   // the legend is the page's own list (#chart-legend), with totals and removal
      cursor: {drag: {x: true, y: false, setScale: false}, points: {show: !single}},
      select: {show: true},
      scales: {
        x: {time: true, range: function () { return [starts[0], ends[ends.length - 1]]; }},
        y: {range: function (_u, _min, max) { return [0, max > 0 ? max * 1.08 : 1]; }},
      },
      axes: [
        {label: "publication date (UTC), " + (data.interval === "week" ? "weeks from Monday" : "per " + data.unit),
         labelSize: 20, stroke: "#3b444c", grid: {stroke: "#e6eaee"}, splits: xSplits,
         values: function (_u, ticks) { return ticks.map(tickLabel); }},
        {label: yLabel(), labelSize: 20, stroke: "#3b444c", grid: {stroke: "#e6eaee"}, size: 56,
         values: function (_u, ticks) {
           return ticks.map(function (t) { return mode === "share" ? t.toFixed(t > 0 && t < 1 ? 1 : 0) + " %" : t; });
         },
         incrs: mode === "share" ? undefined : [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]},
      ],
      series: series,
      hooks: {setSelect: [onSelect], setCursor: [showTooltip]},
    };
  }

  function build() {
    return new uPlot(options(el.clientWidth || 720),
                     [starts].concat(data.series.map(values)), el);
  }

  var plot = build();
  el.appendChild(tooltip);
  el.dataset.ready = "1";
  plot.over.addEventListener("mouseleave", function () { tooltip.hidden = true; });
  plot.over.addEventListener("dblclick", function () {
    var params = new URLSearchParams(window.location.search);
    if (params.has("from") || params.has("to")) navigate(function (p) { p.delete("from"); p.delete("to"); });
  });

  function rebuild() {
    plot.destroy();
    plot = build();
    el.appendChild(tooltip);
    plot.over.addEventListener("mouseleave", function () { tooltip.hidden = true; });
    plot.over.addEventListener("dblclick", function () {
      var params = new URLSearchParams(window.location.search);
      if (params.has("from") || params.has("to")) navigate(function (p) { p.delete("from"); p.delete("to"); });
    });
    el.dataset.mode = mode;
  }

  // count or share: redrawn at once, kept in the URL (and in the links that keep the chart's view)
  document.querySelectorAll('input[name="chart-mode"]').forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (!radio.checked) return;
      mode = radio.value === "share" ? "share" : "count";
      var params = new URLSearchParams(window.location.search);
      if (mode === "share") params.set("chart", "share"); else params.delete("chart");
      var qs = params.toString();
      history.replaceState(null, "", window.location.pathname + (qs ? "?" + qs : ""));
      rebuild();
    });
  });

  // printing: the numbers' table is printed open (a closed <details> prints nothing)
  var table = document.querySelector("details.chart-table");
  function forPrint(on) { if (table) { if (on) { table.dataset.wasOpen = table.open ? "1" : ""; table.open = true; }
                                       else if (!table.dataset.wasOpen) table.open = false; } }
  window.addEventListener("beforeprint", function () { forPrint(true); });
  window.addEventListener("afterprint", function () { forPrint(false); });
  var printing = window.matchMedia("print");
  if (printing.addEventListener) printing.addEventListener("change", function (e) { forPrint(e.matches); });

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { plot.setSize({width: el.clientWidth, height: 240}); }, 150);
  });

  // download: the chart as drawn, with its title and legend, on a white PNG
  var png = document.getElementById("chart-png");
  if (png) {
    png.hidden = false;
    png.addEventListener("click", function () {
      var src = plot.ctx.canvas, ratio = src.width / plot.width;
      var title = (document.getElementById("chart-title").textContent || "").replace(/\s+/g, " ").trim()
        .split(". Drag")[0];
      var line = 20 * ratio, head = 28 * ratio, legend = data.series.length * line + 10 * ratio;
      var out = document.createElement("canvas");
      out.width = src.width;
      out.height = src.height + head + legend;
      var g = out.getContext("2d");
      g.fillStyle = "#fff";
      g.fillRect(0, 0, out.width, out.height);
      g.fillStyle = "#1d232a";
      g.font = "bold " + Math.round(14 * ratio) + "px sans-serif";
      g.fillText(title, 8 * ratio, 19 * ratio);
      g.drawImage(src, 0, head);
      g.font = Math.round(13 * ratio) + "px sans-serif";
      data.series.forEach(function (s, k) {
        var y = src.height + head + (k + 1) * line;
        g.fillStyle = colours[k];
        g.fillRect(8 * ratio, y - 11 * ratio, 14 * ratio, 12 * ratio);
        g.fillStyle = "#1d232a";
        g.fillText(s.label + " — " + s.total + " articles" + (mode === "share" ? " (share of all archived)" : ""),
                   28 * ratio, y);
      });
      out.toBlob(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = "dealwatch-attention.png";
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      }, "image/png");
    });
  }
})();
