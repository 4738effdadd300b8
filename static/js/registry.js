// The model page's chart: the latest perplexity of each version of the family (plotly,
// served from static/).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("perplexity-chart");
  const el = document.querySelector('[data-chart="perplexity"]');
  if (!source || !el || !window.Plotly) return;
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.body);
  Plotly.newPlot(
    el,
    [{ type: "bar", x: data.labels, y: data.values, marker: { color: "#1d4ed8" },
       text: data.values.map((v) => v.toFixed(2)), textposition: "auto",
       hovertemplate: "%{x}: perplexity %{y:.3f}<extra></extra>" }],
    {
      margin: { t: 8, r: 8, b: 40, l: 48 }, bargap: 0.35,
      font: { family: style.fontFamily, size: 11, color: "#5b6777" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      yaxis: { title: { text: "perplexity" }, rangemode: "tozero", gridcolor: "#e8edf3", fixedrange: true },
      xaxis: { fixedrange: true, automargin: true },
    },
    { displayModeBar: false, responsive: true },
  );
});
