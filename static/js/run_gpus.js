// GPU charts on a run page: utilisation, memory and power of every GPU the run's job
// held, one trace per GPU ("node/gpuN"). The first load draws the series (downsampled
// on the server, max utilisation kept); while the job is active, newer samples are
// fetched with ?after=<time> and appended with Plotly.extendTraces (a GPU of a new
// attempt gets a new trace). Like job_metrics.js, it reads the job's state from the
// htmx-polled status block and stops polling once the job ended.
(function () {
  const TERMINAL = ["succeeded", "failed", "cancelled"];
  const NO_GPUS = "This run uses no GPUs.";
  function state() {
    const el = document.getElementById("job-status");
    return el ? el.dataset.state : "";
  }
  async function fetchJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(response.status);
    return response.json();
  }
  function start() {
    const box = document.querySelector(".gpu-charts[data-url]");
    if (!box || !window.Plotly) return;
    const note = box.parentElement.querySelector("[data-gpus-note]");
    const charts = Array.from(box.querySelectorAll(".gpu-chart-run"));
    const keys = [];  // trace order, shared by the three charts
    const last = {};  // newest time drawn per GPU (ms)
    let drawn = false;
    const layout = { margin: { t: 6, r: 10, b: 36, l: 44 }, legend: { orientation: "h", y: -0.2 },
      xaxis: { type: "date" }, yaxis: { rangemode: "tozero" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" };
    function columns(gpu, from) {
      // The points newer than what is drawn already (a later batch may repeat some).
      const keep = [];
      for (let i = 0; i < gpu.t.length; i++) if (Date.parse(gpu.t[i]) > from) keep.push(i);
      return {
        x: keep.map((i) => new Date(gpu.t[i])),
        y: Object.fromEntries(charts.map((c) => [c.dataset.field, keep.map((i) => gpu[c.dataset.field][i])])),
        newest: keep.length ? Date.parse(gpu.t[keep[keep.length - 1]]) : from,
      };
    }
    function trace(gpu, cols, field) {
      return { x: cols.x, y: cols.y[field], name: gpu.key, type: "scatter", mode: "lines",
        connectgaps: false, hovertemplate: "%{y}<extra>" + gpu.key + "</extra>" };
    }
    function after() {
      // The oldest of the newest times: one node's telemetry may arrive later than another's.
      const times = keys.map((k) => last[k]).filter((t) => t > -Infinity);
      return times.length ? new Date(Math.min(...times)).toISOString() : "";
    }
    async function poll() {
      const since = drawn ? after() : "";
      const data = await fetchJSON(since ? `${box.dataset.url}?after=${encodeURIComponent(since)}` : box.dataset.url);
      if (!data.uses_gpus) {
        if (note) note.textContent = NO_GPUS;
        return;
      }
      const gpus = data.gpus.filter((g) => drawn || g.t.length);
      if (!drawn) {
        if (!gpus.length) return;
        gpus.forEach((g) => { keys.push(g.key); last[g.key] = -Infinity; });
        const cols = gpus.map((g) => { const c = columns(g, -Infinity); last[g.key] = c.newest; return c; });
        box.hidden = false;
        if (note) note.hidden = true;
        charts.forEach((chart) => {
          const yaxis = chart.dataset.max ? { range: [0, Number(chart.dataset.max)] } : layout.yaxis;
          Plotly.newPlot(chart, gpus.map((g, i) => trace(g, cols[i], chart.dataset.field)), { ...layout, yaxis },
            { displayModeBar: false, responsive: true });
        });
        drawn = true;
        return;
      }
      const idx = [], xs = [], ys = {}, added = [];
      charts.forEach((c) => { ys[c.dataset.field] = []; });
      for (const g of gpus) {
        const known = keys.indexOf(g.key);
        const cols = columns(g, known < 0 ? -Infinity : last[g.key]);
        if (!cols.x.length) continue;
        last[g.key] = cols.newest;
        if (known < 0) { added.push([g, cols]); continue; }
        idx.push(known); xs.push(cols.x);
        charts.forEach((c) => ys[c.dataset.field].push(cols.y[c.dataset.field]));
      }
      charts.forEach((chart) => {
        if (idx.length) Plotly.extendTraces(chart, { x: xs, y: ys[chart.dataset.field] }, idx);
        if (added.length) Plotly.addTraces(chart, added.map(([g, cols]) => trace(g, cols, chart.dataset.field)));
      });
      added.forEach(([g]) => keys.push(g.key));
    }
    async function loop(first) {
      const ended = TERMINAL.includes(state());
      try { await poll(); } catch (e) { /* next round */ }
      if (!TERMINAL.includes(state())) setTimeout(() => loop(false), 5000);
      else if (!ended && !first) { try { await poll(); } catch (e) { /* done */ } }  // the last samples
    }
    loop(true);
  }
  document.addEventListener("DOMContentLoaded", start);
})();
