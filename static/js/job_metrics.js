// Live metrics chart on a job page: the first load draws every series (downsampled on
// the server, spikes kept); then new points are appended with Plotly.extendTraces
// until the job ends. The chart lives outside the htmx-polled status block.
(function () {
  const TERMINAL = ["succeeded", "failed", "cancelled"];
  function state() {
    const el = document.getElementById("job-status");
    return el ? el.dataset.state : "";
  }
  async function fetchJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(response.status);
    return response.json();
  }
  async function start() {
    const el = document.getElementById("job-metrics");
    if (!el || !window.Plotly) return;
    const base = el.dataset.url;
    // data-primary="loss,eval_loss": those series are drawn, the others wait in the
    // legend (one click shows them), so tokens/s does not flatten the loss.
    const primary = (el.dataset.primary || "").split(",").filter(Boolean);
    const names = [];
    const last = {};
    const layout = { margin: { t: 10, r: 10, b: 36, l: 48 }, legend: { orientation: "h", y: -0.25 },
      xaxis: { title: { text: "step" } }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" };
    async function load() {
      const data = await fetchJSON(base);
      if (!data.series.length) return false;
      el.closest("section").hidden = false;
      const type = window.ForgeCharts.lineType(data.series);
      const traces = data.series.map((s) => {
        names.push(s.name);
        last[s.name] = s.steps.length ? s.steps[s.steps.length - 1] : -1;
        const visible = !primary.length || primary.includes(s.name) ? true : "legendonly";
        return { x: s.steps, y: s.values, name: s.name, type, mode: "lines", visible };
      });
      Plotly.newPlot(el, traces, layout, { displayModeBar: false, responsive: true });
      return true;
    }
    async function poll() {
      if (!names.length) {
        if (!(await load())) return;
      } else {
        const xs = [], ys = [], idx = [];
        for (let i = 0; i < names.length; i++) {
          const data = await fetchJSON(`${base}?name=${encodeURIComponent(names[i])}&after_step=${last[names[i]]}`);
          const s = data.series[0];
          if (s && s.steps.length) {
            xs.push(s.steps); ys.push(s.values); idx.push(i);
            last[names[i]] = s.steps[s.steps.length - 1];
          }
        }
        if (idx.length) {
          Plotly.extendTraces(el, { x: xs, y: ys }, idx);
          window.ForgeCharts.growToWebGL(el);
        }
      }
    }
    async function loop() {
      try { await poll(); } catch (e) { /* next round */ }
      if (!TERMINAL.includes(state())) setTimeout(loop, 2000);
      else { try { await poll(); } catch (e) { /* done */ } }
    }
    loop();
  }
  document.addEventListener("DOMContentLoaded", start);
})();
