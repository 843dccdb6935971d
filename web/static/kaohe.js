// Small page behaviours (no framework): the appeal-window countdown and "select all" in the case queue.
(function () {
  "use strict";
  document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
    var end = Date.parse(el.dataset.deadline);
    function tick() {
      var left = Math.max(0, end - Date.now());
      if (left === 0) { el.textContent = el.dataset.closed; return; }
      var s = Math.floor(left / 1000), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
      var m = Math.floor((s % 3600) / 60), sec = s % 60;
      el.textContent = d + " " + el.dataset.days + " " + h + ":" + String(m).padStart(2, "0") + ":" +
        String(sec).padStart(2, "0");
      window.setTimeout(tick, 1000);
    }
    tick();
  });
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("#cases input[name=case]").forEach(function (box) { box.checked = all.checked; });
    });
  }
})();
