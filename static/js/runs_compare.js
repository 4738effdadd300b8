// Compare page charts: one Plotly chart per metric, one trace per run (legend
// "run <id> · <name>"). The first load draws each run's series (downsampled on the
// server, spikes kept); then, while any run is active, new points are appended with
// Plotly.extendTraces, as static/js/job_metrics.js does on a run's page.
(function () {
  const POLL_MS = 2000;

  async function fetchJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(response.status);
    return response.json();
  }

  function layout(empty) {
    return {
      margin: { t: 10, r: 10, b: 36, l: 56 },
      legend: { orientation: "h", y: -0.22 },
      xaxis: { title: { text: "step" } },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      annotations: empty ? [{ text: "No points yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] : [],
    };
  }

  function start() {
    const configEl = document.getElementById("compare-config");
    if (!configEl || !window.Plotly) return;
    const config = JSON.parse(configEl.textContent);
    const ids = config.runs.map((r) => r.id);
    const charts = config.metrics.map((metric) => ({
      metric,
      el: document.getElementById(`chart-${metric}`),
      last: ids.map(() => -1), // the last step drawn, per run (the order of ids)
      drawn: false,
      empty: true,
    }));

    function url(chart, after) {
      const query = new URLSearchParams({ runs: ids.join(","), name: chart.metric });
      if (after) query.set("after", chart.last.join(","));
      return `${config.url}?${query}`;
    }

    function remember(chart, runs) {
      const xs = [], ys = [], idx = [];
      runs.forEach((r) => {
        const i = ids.indexOf(r.id);
        if (i < 0 || !r.steps.length) return;
        xs.push(r.steps); ys.push(r.values); idx.push(i);
        chart.last[i] = r.steps[r.steps.length - 1];
      });
      return { xs, ys, idx };
    }

    async function update(chart) {
      if (!chart.el) return false;
      const data = await fetchJSON(url(chart, chart.drawn));
      if (!chart.drawn) {
        const byId = Object.fromEntries(data.runs.map((r) => [r.id, r]));
        const type = window.ForgeCharts.lineType(data.runs);
        const traces = config.runs.map((r) => {
          const s = byId[r.id] || { steps: [], values: [] };
          return {
            x: s.steps, y: s.values, name: r.label, type,
            mode: chart.metric === "eval_loss" ? "lines+markers" : "lines",
          };
        });
        remember(chart, data.runs);
        chart.empty = traces.every((t) => !t.x.length);
        Plotly.newPlot(chart.el, traces, layout(chart.empty), { displayModeBar: false, responsive: true });
        chart.drawn = true;
      } else {
        const { xs, ys, idx } = remember(chart, data.runs);
        if (idx.length) {
          Plotly.extendTraces(chart.el, { x: xs, y: ys }, idx);
          window.ForgeCharts.growToWebGL(chart.el);
          if (chart.empty) { chart.empty = false; Plotly.relayout(chart.el, { annotations: [] }); }
        }
      }
      return data.active;
    }

    async function loop() {
      let active = false;
      for (const chart of charts) {
        try { active = (await update(chart)) || active; } catch (e) { active = true; /* next round */ }
      }
      // `active` was read before the points were: an inactive answer holds every point.
      if (active) setTimeout(loop, POLL_MS);
    }
    loop();
  }
  document.addEventListener("DOMContentLoaded", start);
})();
