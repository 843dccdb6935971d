// Small page behaviours (no framework): "select all" in the case queue (countdowns: countdown.js).
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("#cases input[name=case]").forEach(function (box) { box.checked = all.checked; });
    });
  }
})();
