// The feedback page's chart: rated answers per day (UTC), stacked by sentiment (plotly,
// served from static/). Redrawn when a filter swaps the results in (htmx).
(() => {
  const COLORS = { positive: "#15803d", neutral: "#94a3b8", negative: "#b91c1c" };
  function draw() {
    const source = document.getElementById("feedback-series");
    const el = document.querySelector('[data-chart="feedback"]');
    if (!source || !el || !window.Plotly) return;
    const data = JSON.parse(source.textContent);
    const style = getComputedStyle(document.body);
    const traces = Object.keys(COLORS).map((name) => ({
      type: "bar", name, x: data.days, y: data.series[name], marker: { color: COLORS[name] },
      width: 0.8 * 86400000,  // ms on a date axis: most of a day
      hovertemplate: `%{y} ${name}<extra>%{x|%Y-%m-%d}</extra>`,
    }));
    // A few days' bars keep a bar's width: the axis spans at least a fortnight.
    const DAY = 86400000;
    let range;
    if (data.days.length) {
      const first = Date.parse(data.days[0]), last = Date.parse(data.days[data.days.length - 1]);
      const pad = Math.max(DAY, (14 * DAY - (last - first)) / 2);
      range = [new Date(first - pad).toISOString(), new Date(last + pad).toISOString()];
    }
    const layout = {
      barmode: "stack", margin: { t: 8, r: 8, b: 36, l: 40 }, height: 220, bargap: 0.3,
      font: { family: style.fontFamily, size: 12, color: "#5b6777" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      legend: { orientation: "h", y: -0.25 },
      xaxis: { type: "date", tickformat: "%b %d", fixedrange: true, range },
      yaxis: { rangemode: "tozero", fixedrange: true, gridcolor: "#e8edf3", title: { text: "answers" } },
      annotations: data.days.length ? [] : [{ text: el.dataset.empty, showarrow: false,
        xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: 13, color: "#5b6777" } }],
    };
    Plotly.newPlot(el, traces, layout, { displayModeBar: false, responsive: true });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
