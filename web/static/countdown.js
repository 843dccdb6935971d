// Live countdowns to a deadline (the publication window on the public page, the appeal window).
// An element with data-deadline (ISO 8601) and data-format ("{d}", "{h}", "{m}", "{s}" filled in)
// is rewritten once a second, and shows data-closed once the deadline has passed. Without
// JavaScript the text the server computed at page load stays. No library, nothing from elsewhere.
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  document.querySelectorAll("[data-deadline][data-format]").forEach(function (el) {
    var end = Date.parse(el.dataset.deadline);
    if (isNaN(end)) { return; }
    function tick() {
      var left = end - Date.now();
      if (left <= 0) {
        el.textContent = el.dataset.closed || "";
        el.dataset.state = "closed";
        return;
      }
      var s = Math.floor(left / 1000);
      el.textContent = el.dataset.format
        .replace("{d}", String(Math.floor(s / 86400)))
        .replace("{h}", String(Math.floor((s % 86400) / 3600)))
        .replace("{m}", pad(Math.floor((s % 3600) / 60)))
        .replace("{s}", pad(s % 60));
      el.dataset.state = "live";
      window.setTimeout(tick, (left % 1000) || 1000);
    }
    tick();
  });
})();
