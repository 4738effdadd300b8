// Small progressive enhancements for every page. The console works without them.
(() => {
  // Times are shown in the reader's zone: the server reads it from this cookie.
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && !document.cookie.split("; ").includes(`forge_tz=${zone}`)) {
      document.cookie = `forge_tz=${zone}; path=/; max-age=31536000; SameSite=Lax`;
    }
  } catch (e) { /* no Intl: UTC */ }
  // <form data-confirm="..."> asks before submitting (irreversible actions).
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // A log (<pre data-follow>) shows its latest lines: it starts scrolled to the bottom
  // and, when htmx replaces it, stays at the bottom unless the reader scrolled up.
  const atBottom = (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  const follow = (root) => {
    root.querySelectorAll("pre[data-follow]").forEach((el) => { el.scrollTop = el.scrollHeight; });
  };
  // An htmx action inside [data-swap-refusals] gets its refusal (403, 409) swapped in like
  // an answer: the partial it returns says why (htmx drops 4xx answers by default).
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if ((status === 403 || status === 409) && event.target.closest("[data-swap-refusals]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A request that htmx aborts on purpose is not an error. A control button's request
  // supersedes the status block's poll in flight (hx-sync "...:replace" fires htmx:abort
  // on the block, and htmx aborts the poll); htmx then logs "htmx:afterRequest" and
  // "htmx:sendAbort" with console.error, as it would a network failure. Its logger hook
  // runs before that log, so it drops the error mark of exactly those superseded requests
  // (marked in the capture phase, before htmx's own handler aborts them).
  if (window.htmx) {
    const superseded = new WeakSet();
    document.addEventListener("htmx:abort", (event) => superseded.add(event.target), true);
    const previous = window.htmx.logger;
    window.htmx.logger = (elt, name, detail) => {
      if (superseded.has(elt) && detail && (name === "htmx:afterRequest" || name === "htmx:sendAbort")) {
        delete detail.error;
        if (name === "htmx:sendAbort") superseded.delete(elt);
      }
      if (previous) previous(elt, name, detail);
    };
  }

  let kept = {};
  document.addEventListener("DOMContentLoaded", () => follow(document));
  document.addEventListener("htmx:beforeSwap", (event) => {
    kept = {};
    event.detail.target.querySelectorAll("pre[data-follow][id]").forEach((el) => {
      kept[el.id] = atBottom(el) ? null : el.scrollTop;
    });
  });
  document.addEventListener("htmx:afterSettle", () => {
    document.querySelectorAll("pre[data-follow][id]").forEach((el) => {
      const top = kept[el.id];
      el.scrollTop = top === undefined || top === null ? el.scrollHeight : top;
    });
    kept = {};
  });
})();

// Line charts of step series (job_metrics.js, runs_compare.js): up to GL_POINTS points
// a chart is SVG ("scatter": cheap to draw, no WebGL context, which a browser without
// a GPU emulates on its CPU); past it, WebGL ("scattergl") keeps a long run's curves
// responsive. A live chart switches once it grows past it.
window.ForgeCharts = (function () {
  const GL_POINTS = 5000;
  const count = (series) => series.reduce((n, s) => n + (s.steps || s.x || []).length, 0);
  return {
    GL_POINTS,
    lineType: (series) => (count(series) > GL_POINTS ? "scattergl" : "scatter"),
    growToWebGL(el) {
      if (count(el.data) > GL_POINTS && el.data.some((t) => t.type !== "scattergl")) {
        window.Plotly.restyle(el, { type: "scattergl" });
      }
    },
  };
})();
