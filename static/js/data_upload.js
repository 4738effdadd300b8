// Dataset upload with a progress bar: XMLHttpRequest reports upload progress, which
// fetch() cannot. Without JavaScript the form posts as usual (no bar, same result).
(() => {
  const form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  const input = form.querySelector("input[type=file]");
  const button = document.getElementById("upload-button");
  const box = document.getElementById("upload-progress");
  const bar = box.querySelector("[role=progressbar]");
  const fill = bar.querySelector("span");
  const text = box.querySelector("p");
  const alert = document.getElementById("upload-error");
  const limit = Number(form.dataset.maxBytes || 0);

  const size = (n) => {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  };
  const fail = (message) => {
    alert.textContent = message;
    alert.hidden = false;
    input.setAttribute("aria-invalid", "true");
    button.disabled = false;
    box.hidden = true;
  };
  const show = (percent, message) => {
    fill.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(Math.round(percent)));
    text.textContent = message;
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = input.files && input.files[0];
    if (!file) { fail("Choose a file to upload."); return; }
    if (limit && file.size > limit) {
      fail(`${file.name} is ${size(file.size)}, over the upload limit of ${size(limit)}. ` +
        "Register big files as a server path instead.");
      return;
    }
    alert.hidden = true;
    input.removeAttribute("aria-invalid");
    button.disabled = true;
    box.hidden = false;
    show(0, `Uploading ${file.name}…`);

    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    const token = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) xhr.setRequestHeader("X-CSRFToken", token.value);
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const percent = (100 * e.loaded) / e.total;
      show(percent, `${size(e.loaded)} of ${size(e.total)} (${Math.floor(percent)}%)`);
    });
    xhr.upload.addEventListener("load", () => show(100, "Uploaded; checking the file…"));
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* an HTML error page */ }
      if (xhr.status === 201 && body.redirect) {
        show(100, "Done; opening the ingest job…");
        window.location.assign(body.redirect);
      } else {
        fail(body.detail || `The upload failed (HTTP ${xhr.status}).`);
      }
    });
    xhr.addEventListener("error", () => fail("The upload was interrupted (network error). Try again."));
    xhr.send(new FormData(form));
  });
})();
