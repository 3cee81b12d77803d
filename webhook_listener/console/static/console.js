// The console's only script: two small pollers, no library. Pages work without it.
(function () {
  "use strict";

  async function getJson(url) {
    const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!answer.ok) return null;
    return answer.json();
  }

  // Transactions: "N new since you opened this page", from the count of matching rows.
  function watchNewRows(box) {
    const opened = Number(box.dataset.count);
    const text = box.querySelector(".new-rows-text");
    async function tick() {
      const found = await getJson(box.dataset.countUrl).catch(() => null);
      if (found && typeof found.count === "number" && found.count > opened) {
        const n = found.count - opened;
        text.textContent = n + (n === 1 ? " new transaction" : " new transactions") + " since you opened this page.";
        box.hidden = false;
      }
    }
    setInterval(tick, Number(box.dataset.interval || 5000));
  }

  // Connectors: the status of the sync request just queued, until it is done.
  function watchSync(box) {
    const state = box.querySelector(".sync-state");
    const timer = setInterval(async function () {
      const found = await getJson(box.dataset.syncUrl).catch(() => null);
      if (!found) return;
      state.textContent = found.status + (found.error ? " (" + found.error + ")" : "");
      if (found.status === "succeeded" || found.status === "failed") clearInterval(timer);
    }, 3000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const rows = document.getElementById("new-rows");
    if (rows) watchNewRows(rows);
    const sync = document.getElementById("sync-status");
    if (sync) watchSync(sync);
  });
})();
