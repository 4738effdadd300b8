// Dashboard chart: jobs created per day, stacked by state.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("daily-chart");
  if (!el || !window.Plotly) return;
  const data = JSON.parse(el.dataset.series);
  const colors = { succeeded: "#15803d", failed: "#b91c1c", cancelled: "#94a3b8", running: "#1d4ed8",
    queued: "#b45309", scheduled: "#d97706", dispatched: "#3b82f6", paused: "#6d28d9", awaiting_approval: "#8b5cf6" };
  const order = Object.keys(colors);
  const states = Object.keys(data.series).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const traces = states.map((state) => ({
    type: "bar", name: state.replace("_", " "), x: data.dates, y: data.series[state],
    marker: { color: colors[state] || "#64748b" },
    hovertemplate: "%{y} " + state.replace("_", " ") + "<extra>%{x|%b %d}</extra>",
  }));
  const totals = data.dates.map((_, i) => states.reduce((sum, s) => sum + data.series[s][i], 0));
  const peak = Math.max(0, ...totals);
  const style = getComputedStyle(document.body);
  const layout = {
    barmode: "stack", bargap: 0.25, margin: { t: 8, r: 8, b: 36, l: 32 },
    font: { family: style.fontFamily, size: 12, color: "#5b6777" },
    legend: { orientation: "h", x: 0, y: -0.18, traceorder: "normal" }, showlegend: traces.length > 0,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    xaxis: { type: "date", tickformat: "%b %d", fixedrange: true },
    // Whole jobs only: one tick per job while counts are small, Plotly's choice above.
    yaxis: { rangemode: "tozero", tickformat: "d", fixedrange: true, gridcolor: "#e8edf3",
      ...(peak <= 6 ? { dtick: 1, range: [0, Math.max(peak, 1) + 0.2] } : {}) },
    annotations: peak ? [] : [{ text: "No jobs in the last 14 days", showarrow: false,
      xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: 13, color: "#5b6777" } }],
  };
  const empty = [{ type: "bar", x: data.dates, y: data.dates.map(() => 0), hoverinfo: "skip", showlegend: false }];
  Plotly.newPlot(el, traces.length ? traces : empty, layout, { displayModeBar: false, responsive: true });
});
