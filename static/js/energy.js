// The Energy page's chart: monthly kgCO2e (plotly, served from static/).
// Monthly emissions (kgCO2e), from the totals per month.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("energy-monthly-chart");
  const data = JSON.parse(document.getElementById("energy-series").textContent);
  if (!el || !window.Plotly) return;
  const style = getComputedStyle(document.body);
  const layout = {
    margin: { t: 8, r: 8, b: 36, l: 48 }, bargap: 0.3,
    font: { family: style.fontFamily, size: 12, color: "#5b6777" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    xaxis: { type: "date", tickformat: "%b %Y", fixedrange: true },
    yaxis: { rangemode: "tozero", fixedrange: true, gridcolor: "#e8edf3", title: { text: "kgCO2e" } },
    annotations: data.months.length ? [] : [{ text: "No metered job yet", showarrow: false,
      xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: 13, color: "#5b6777" } }],
  };
  const trace = { type: "bar", x: data.months, y: data.kgco2e, marker: { color: "#15803d" },
    hovertemplate: "%{y:.3f} kgCO2e<extra>%{x|%B %Y}</extra>" };
  Plotly.newPlot(el, [trace], layout, { displayModeBar: false, responsive: true });
});
