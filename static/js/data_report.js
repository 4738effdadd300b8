// Cleaning report charts (plotly, served from static/): documents and bytes in and out,
// the funnel of documents left after each step, what each rule dropped or modified,
// PII hits per type, duplicate clusters, and the length histogram before and after.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("report-charts");
  if (!source || !window.Plotly) return;
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.body);
  const C = { before: "#94a3b8", after: "#1d4ed8", drop: "#b91c1c", mod: "#b45309", ok: "#15803d", pii: "#6d28d9" };
  const base = (extra) => ({
    margin: { t: 8, r: 8, b: 40, l: 48 }, bargap: 0.25,
    font: { family: style.fontFamily, size: 11, color: "#5b6777" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    legend: { orientation: "h", x: 0, y: -0.22 },
    yaxis: { rangemode: "tozero", gridcolor: "#e8edf3", fixedrange: true, automargin: true },
    xaxis: { fixedrange: true, automargin: true },
    ...extra,
  });
  const empty = (text) => ({ annotations: [{ text, showarrow: false, xref: "paper", yref: "paper",
    x: 0.5, y: 0.5, font: { size: 12, color: "#5b6777" } }], xaxis: { visible: false }, yaxis: { visible: false } });
  const config = { displayModeBar: false, responsive: true };
  const draw = (name, traces, layout) => {
    const el = document.querySelector(`[data-chart="${name}"]`);
    if (el) Plotly.newPlot(el, traces, base(layout || {}), config);
  };
  // In and out as a share of the input, labelled with the figures themselves.
  const io = data.in_out;
  const kb = (n) => (n >= 1e6 ? (n / 1e6).toFixed(1) + " MB" : (n / 1e3).toFixed(1) + " KB");
  const pct = (out, inn) => (inn ? (100 * out) / inn : 0);
  const x = ["documents", "text"];
  draw("in_out", [
    { type: "bar", name: "in", x, y: [100, 100], marker: { color: C.before },
      text: [io.documents[0].toLocaleString("en-US"), kb(io.bytes[0])], textposition: "inside",
      hovertemplate: "%{x} in: %{text}<extra></extra>" },
    { type: "bar", name: "out", x, y: [pct(io.documents[1], io.documents[0]), pct(io.bytes[1], io.bytes[0])],
      marker: { color: C.after }, textposition: "inside",
      text: [io.documents[1].toLocaleString("en-US"), kb(io.bytes[1])],
      hovertemplate: "%{x} out: %{text} (%{y:.1f}% kept)<extra></extra>" },
  ], { barmode: "group", yaxis: { range: [0, 105], ticksuffix: "%", gridcolor: "#e8edf3", fixedrange: true } });

  draw("funnel", [{ type: "bar", x: data.funnel.y, y: data.funnel.x, orientation: "h", marker: { color: C.after },
    hovertemplate: "%{y}: %{x:,} documents<extra></extra>" }],
    { margin: { t: 8, r: 8, b: 30, l: 8 }, yaxis: { autorange: "reversed", automargin: true, fixedrange: true },
      xaxis: { rangemode: "tozero", gridcolor: "#e8edf3", fixedrange: true } });

  draw("rules", [
    { type: "bar", name: "dropped", y: data.rules.x, x: data.rules.dropped, orientation: "h", marker: { color: C.drop } },
    { type: "bar", name: "modified (masked, rewritten)", y: data.rules.x, x: data.rules.modified, orientation: "h", marker: { color: C.mod } },
  ], { barmode: "group", margin: { t: 8, r: 8, b: 30, l: 8 }, yaxis: { autorange: "reversed", automargin: true, fixedrange: true },
       xaxis: { rangemode: "tozero", gridcolor: "#e8edf3", fixedrange: true } });

  if (data.pii.x.length) {
    draw("pii", [{ type: "bar", x: data.pii.x, y: data.pii.y, marker: { color: C.pii },
      hovertemplate: "%{x}: %{y:,} masked<extra></extra>" }]);
  } else {
    draw("pii", [], empty("No PII rule in this pipeline"));
  }

  if (data.dedup.x.length) {
    draw("dedup", [
      { type: "bar", name: "clusters", x: data.dedup.x, y: data.dedup.clusters, marker: { color: C.after } },
      { type: "bar", name: "duplicates dropped", x: data.dedup.x, y: data.dedup.duplicates, marker: { color: C.drop } },
    ], { barmode: "group" });
  } else {
    draw("dedup", [], empty("No dedup rule in this pipeline"));
  }

  const h = data.length_histogram;
  draw("length_histogram", [
    { type: "bar", name: "before", x: h.x, y: h.before, marker: { color: C.before } },
    { type: "bar", name: "after", x: h.x, y: h.after, marker: { color: C.after } },
  ], { barmode: "group", xaxis: { type: "category", fixedrange: true, automargin: true, tickangle: -35 } });
});
