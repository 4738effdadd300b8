// Fleet charts: a sparkline per GPU on the fleet page, utilisation and memory on a node page.
// The htmx partial brings fresh data every few seconds; charts are redrawn from it.
(function () {
  function series() {
    const el = document.getElementById("fleet-series");
    return el ? JSON.parse(el.textContent) : {};
  }
  function draw() {
    if (!window.Plotly) return;
    const data = series();
    document.querySelectorAll(".sparkline").forEach((el) => {
      const s = data[el.dataset.gpu];
      if (!s) return;
      Plotly.react(el, [{ x: s.t, y: s.util, type: "scatter", mode: "lines", line: { width: 1.5, color: "#1d4ed8" },
        fill: "tozeroy", fillcolor: "rgba(29,78,216,.12)", hoverinfo: "y" }],
        { margin: { t: 0, r: 0, b: 0, l: 0 }, xaxis: { visible: false }, yaxis: { visible: false, range: [0, 100] },
          paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", showlegend: false },
        { displayModeBar: false, staticPlot: true });
    });
    document.querySelectorAll(".gpu-chart").forEach((el) => {
      const s = data[el.dataset.gpu];
      if (!s) return;
      Plotly.react(el, [
        { x: s.t, y: s.util, name: "load %", type: "scatter", mode: "lines", line: { color: "#1d4ed8" } },
        { x: s.t, y: s.temp, name: "°C", type: "scatter", mode: "lines", line: { color: "#b45309" } },
        { x: s.t, y: s.power, name: "W", type: "scatter", mode: "lines", yaxis: "y2", line: { color: "#15803d" } },
      ], { margin: { t: 6, r: 40, b: 30, l: 36 }, legend: { orientation: "h", y: -0.35 },
           yaxis: { rangemode: "tozero" }, yaxis2: { overlaying: "y", side: "right", rangemode: "tozero" },
           paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" },
         { displayModeBar: false, responsive: true });
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
