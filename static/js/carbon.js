// The Carbon page's chart: the forecast gCO2e/kWh the scheduler plans with, in the
// reader's zone (the times are UTC ISO strings; plotly shows them in local time).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("carbon-forecast");
  const el = document.querySelector('[data-chart="carbon-forecast"]');
  if (!source || !el || !window.Plotly) return;
  const data = JSON.parse(source.textContent);
  const local = (iso) => {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  };
  const style = getComputedStyle(document.body);
  Plotly.newPlot(
    el,
    [{ type: "scatter", mode: "lines", line: { shape: "hv", color: "#15803d" }, fill: "tozeroy",
       fillcolor: "rgba(21,128,61,0.12)", x: data.times.map(local), y: data.values,
       hovertemplate: "%{x}: %{y:.0f} gCO2e/kWh<extra></extra>" }],
    {
      margin: { t: 8, r: 8, b: 40, l: 56 },
      font: { family: style.fontFamily, size: 11, color: "#5b6777" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      yaxis: { title: { text: "gCO2e/kWh" }, rangemode: "tozero", gridcolor: "#e8edf3", fixedrange: true },
      xaxis: { fixedrange: true, automargin: true },
      shapes: [{ type: "line", x0: local(data.now), x1: local(data.now), yref: "paper", y0: 0, y1: 1,
                 line: { color: "#94a3b8", dash: "dot", width: 1 } }],
    },
    { displayModeBar: false, responsive: true },
  );
});
