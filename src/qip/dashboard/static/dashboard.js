// Quantum Image Processor dashboard: live fragments, actions and uploads. No framework, no build.
// Server HTML is escaped by the templates; text that comes from elsewhere is set with textContent.
"use strict";

const ACTION_HEADERS = { "X-QIP-Dashboard": "1" };
const lastHtml = new WeakMap();
const lastFetch = new WeakMap();
const busy = new WeakSet();

// Every element with data-refresh="<url>" is re-rendered from that url every data-interval ms,
// and only replaced when the HTML changed (so images do not reload and focus stays).
async function refresh(element, force) {
  const interval = Number(element.dataset.interval || 2000);
  const now = Date.now();
  if (busy.has(element) || (!force && now - (lastFetch.get(element) || 0) < interval)) return;
  busy.add(element);
  lastFetch.set(element, now);
  try {
    const response = await fetch(element.dataset.refresh, { headers: ACTION_HEADERS, cache: "no-store" });
    if (!response.ok) throw new Error(response.status);
    const html = await response.text();
    if (lastHtml.get(element) !== html) {
      lastHtml.set(element, html);
      element.innerHTML = html;
    }
    document.body.classList.remove("stale");
  } catch (error) {
    document.body.classList.add("stale");
  } finally {
    busy.delete(element);
  }
}

function tick(force) {
  if (document.hidden) return;
  document.querySelectorAll("[data-refresh]").forEach((element) => refresh(element, force));
}

function toast(message, isError) {
  const box = document.createElement("div");
  box.className = "toast" + (isError ? " toast-error" : "");
  box.textContent = message;
  document.getElementById("toasts").appendChild(box);
  setTimeout(() => box.remove(), 6000);
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", headers: ACTION_HEADERS, body });
  const data = await response.json().catch(() => ({ error: "unexpected answer " + response.status }));
  if (!response.ok) throw new Error(data.error || "request failed: " + response.status);
  return data;
}

// Buttons with data-action="<url>" post to it (delegated: they may live inside refreshed fragments).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  try {
    const data = await post(button.dataset.action);
    toast(data.message || "Done.");
  } catch (error) {
    toast(error.message, true);
  } finally {
    button.disabled = false;
    tick(true);
  }
});

// Upload page: drop files, or choose them; each is posted on its own and followed in the table.
function setUpUploads() {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("file-input");
  if (!zone || !input) return;
  const rows = document.getElementById("uploads");

  function row(name) {
    rows.querySelector(".empty-row")?.remove();
    const tr = document.createElement("tr");
    const keyCell = document.createElement("td");
    keyCell.className = "key";
    keyCell.textContent = name;
    const statusCell = document.createElement("td");
    statusCell.innerHTML = '<span class="badge badge-waiting">UPLOADING</span>';
    tr.append(keyCell, statusCell);
    rows.prepend(tr);
    return { keyCell, statusCell };
  }

  async function send(files) {
    const prefix = document.getElementById("prefix").value;
    for (const file of files) {
      const cells = row(prefix + file.name);
      const form = new FormData();
      form.append("prefix", prefix);
      form.append("file", file, file.name);
      try {
        const data = await post("/api/upload", form);
        for (const uploaded of data.uploaded) {
          const link = document.createElement("a");
          link.href = uploaded.detail;
          link.textContent = uploaded.key;
          cells.keyCell.replaceChildren(link);
          const badge = document.createElement("span");
          badge.dataset.refresh = "/fragments/badge?key=" + encodeURIComponent(uploaded.key);
          badge.dataset.interval = "1500";
          badge.className = "upload-status";
          cells.statusCell.replaceChildren(badge);
          refresh(badge, true);
        }
      } catch (error) {
        cells.statusCell.textContent = "upload failed: " + error.message;
      }
    }
  }

  input.addEventListener("change", () => { send([...input.files]); input.value = ""; });
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    send([...event.dataTransfer.files]);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpUploads();
  document.querySelectorAll("[data-refresh]").forEach((element) => {
    lastHtml.set(element, element.innerHTML);
    lastFetch.set(element, Date.now());
  });
  setInterval(tick, 500);
  document.addEventListener("visibilitychange", () => tick(true));
});
