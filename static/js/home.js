// Dashboard chart: jobs created per day, stacked by state.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("daily-chart");
  if (!el || !window.Plotly) return;
  const data = JSON.parse(el.dataset.series);
  const colors = { succeeded: "#15803d", failed: "#b91c1c", cancelled: "#94a3b8", running: "#1d4ed8",
    queued: "#b45309", scheduled: "#d97706", dispatched: "#3b82f6", paused: "#6d28d9", awaiting_approval: "#8b5cf6" };
  const traces = Object.entries(data.series).map(([state, ys]) => ({
    type: "bar", name: state.replace("_", " "), x: data.dates, y: ys, marker: { color: colors[state] || "#64748b" },
  }));
  Plotly.newPlot(el, traces.length ? traces : [{ type: "bar", x: data.dates, y: data.dates.map(() => 0), name: "jobs" }], {
    barmode: "stack", margin: { t: 10, r: 10, b: 40, l: 36 }, legend: { orientation: "h", y: -0.2 },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", yaxis: { rangemode: "tozero", dtick: 1 },
  }, { displayModeBar: false, responsive: true });
});
