// Taste2Vec web UI: the few things that need a script. Everything works without it,
// except the live lexicon preview and the slider values.
"use strict";

function csrfOf(form) {
  const field = form.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

// Sliders: record only the intensities the taster touched (the input gets its name).
function initSliders() {
  document.querySelectorAll('input[type="range"][data-name]').forEach((input) => {
    const out = input.parentElement.querySelector("output");
    input.addEventListener("input", () => {
      input.name = input.dataset.name;
      if (out) out.textContent = input.value;
    });
  });
}

// Live "we hear: ..." preview from the lexicon, debounced while the taster types.
const PREVIEW_DEBOUNCE_MS = 150;
function initPreview() {
  const notes = document.getElementById("notes");
  const box = document.getElementById("heard");
  const items = document.getElementById("heard-items");
  if (!notes || !box || !items) return;
  let timer = null;
  let seq = 0;
  const run = async () => {
    const mine = ++seq;
    const started = performance.now();
    const url = "/ui/api/hear?text=" + encodeURIComponent(notes.value);
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok || response.redirected || mine !== seq) return;
      const body = await response.json();
      const ko = box.dataset.lang === "ko";
      const names = body.items.map((h) => (ko ? h.name_ko : h.name));
      items.textContent = names.length ? names.join(", ") : box.dataset.none;
      box.dataset.latencyMs = (performance.now() - started).toFixed(1);
      box.dataset.text = notes.value;
    } catch (err) {
      /* the preview is a convenience; the form still works */
    }
  };
  notes.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, PREVIEW_DEBOUNCE_MS);
  });
  if (notes.value) run();
}

// Like / dislike: drop the card at once, send it, then show the new list.
function initReactions() {
  const box = document.getElementById("recs-box");
  if (!box) return;
  box.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.react");
    if (!form) return;
    event.preventDefault();
    const card = form.closest("li.rec");
    if (card) card.remove();
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrfOf(form) },
        credentials: "same-origin",
      });
      if (response.redirected) {  // signed out meanwhile: go where the server says
        window.location.assign(response.url);
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      box.innerHTML = await response.text();
      const first = box.querySelector("button");
      if (first) first.focus();
    } catch (err) {
      window.location.reload(); // show the list as the server has it
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  initSliders();
  initPreview();
  initReactions();
});
