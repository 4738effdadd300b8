// New-run page: the "custom" model. Shows the custom fieldset only when Preset is
// "custom", fills its fields from the "Start from" preset, and, as any field changes,
// asks /runs/new/estimate.json (console/runs/estimate.py) for the exact parameter
// count, the memory per GPU and per host and the fleet's verdict, showing field
// errors beside their fields. The server checks everything again on launch.
(function () {
  const DEBOUNCE_MS = 250;
  const SKIP = new Set(["csrfmiddlewaretoken", "deepspeed_json"]);
  const MODEL = "model.";

  function start() {
    const form = document.getElementById("run-form");
    const fieldset = document.getElementById("custom-model");
    const valuesEl = document.getElementById("preset-values");
    if (!form || !fieldset || !valuesEl) return;
    const presetValues = JSON.parse(valuesEl.textContent);
    const preset = form.elements.namedItem("preset");
    const base = form.elements.namedItem("base_preset");
    const out = {
      params: fieldset.querySelector("[data-testid=custom-params]"),
      gpu: fieldset.querySelector("[data-testid=custom-gpu]"),
      host: fieldset.querySelector("[data-testid=custom-host]"),
      fit: fieldset.querySelector("[data-testid=custom-fit]"),
    };
    let timer = null;
    let asked = 0;

    const modelInputs = () =>
      Array.from(form.elements).filter((el) => el.name && el.name.startsWith(MODEL));
    const isCustom = () => preset.value === "custom";

    function fillFromBase() {
      const values = presetValues[base.value || "tiny"] || {};
      modelInputs().forEach((el) => {
        const value = values[el.name.slice(MODEL.length)];
        if (value === undefined) return;
        if (el.type === "checkbox") el.checked = Boolean(value);
        else el.value = String(value);
      });
    }

    function gib(bytes) {
      const GiB = 1024 ** 3;
      return bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
    }

    function short(n) {
      if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
      if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
      if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
      return String(n);
    }

    function clearLiveErrors() {
      fieldset.querySelectorAll("ul[data-live]").forEach((ul) => ul.remove());
      modelInputs().forEach((el) => el.removeAttribute("aria-invalid"));
    }

    function showErrors(errors) {
      const elsewhere = [];
      Object.entries(errors || {}).forEach(([name, messages]) => {
        const el = form.elements.namedItem(name);
        if (!el || !fieldset.contains(el)) {
          elsewhere.push(`${name}: ${messages.join(" ")}`);
          return;
        }
        const ul = document.createElement("ul");
        ul.className = "errorlist";
        ul.dataset.live = "";
        ul.dataset.field = name;
        messages.forEach((m) => {
          const li = document.createElement("li");
          li.textContent = m;
          ul.appendChild(li);
        });
        el.setAttribute("aria-invalid", "true");
        el.closest(".field").appendChild(ul);
      });
      return elsewhere;
    }

    function blank(text) {
      out.params.textContent = text;
      out.gpu.textContent = out.host.textContent = "—";
      out.fit.textContent = "—";
    }

    async function update() {
      if (!isCustom()) return;
      const query = new URLSearchParams();
      new FormData(form).forEach((value, name) => {
        if (!SKIP.has(name)) query.append(name, value);
      });
      const mine = ++asked;
      let data;
      try {
        const response = await fetch(`${form.dataset.estimateUrl}?${query}`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        data = await response.json();
      } catch (e) {
        if (mine === asked) blank("(the estimate is not available)");
        return;
      }
      if (mine !== asked) return; // a newer answer is on its way
      clearLiveErrors();
      const elsewhere = showErrors(data.errors);
      if (data.params === undefined) {
        blank("— (fix the fields marked)");
        if (elsewhere.length) out.fit.textContent = elsewhere.join(" · ");
        return;
      }
      out.params.textContent = `${data.params.toLocaleString("en-US")} (${short(data.params)})`;
      const m = data.memory;
      out.gpu.textContent = data.cpu
        ? "— (CPU run)"
        : `${gib(m.gpu_total)} (model states ${gib(m.gpu_model_states)} + activations ${gib(m.gpu_activations)}), ZeRO ${m.stage}`;
      out.host.textContent = gib(m.host_model_states);
      if (elsewhere.length) out.fit.textContent = elsewhere.join(" · ");
      else if (data.problems === null) out.fit.textContent = "— (complete the form to check the fleet)";
      else if (data.problems.length) out.fit.textContent = `Would be refused: ${data.problems.join(" ")}`;
      else out.fit.textContent = "Fits on the fleet";
      out.fit.dataset.fits = data.problems && !data.problems.length && !elsewhere.length ? "yes" : "no";
    }

    function soon() {
      clearTimeout(timer);
      timer = setTimeout(update, DEBOUNCE_MS);
    }

    function showFieldset() {
      fieldset.hidden = !isCustom();
    }

    preset.addEventListener("change", () => {
      showFieldset();
      if (isCustom() && modelInputs().every((el) => el.type === "checkbox" || el.value === "")) {
        fillFromBase();
      }
      soon();
    });
    base.addEventListener("change", () => {
      fillFromBase();
      soon();
    });
    form.addEventListener("input", (event) => {
      if (event.target !== preset && event.target !== base) soon();
    });
    showFieldset();
    if (isCustom()) update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
