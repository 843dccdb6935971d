// Draws the dashboard's score chart from the JSON in the canvas's data-chart attribute
// (no inline script, so a strict Content-Security-Policy holds). Chart.js is served locally.
(function () {
  "use strict";
  var canvas = document.getElementById("score-chart");
  if (!canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(canvas.getAttribute("data-chart"));
  new Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets: [{ label: data.label, data: data.totals, backgroundColor: "#a61b29" }] },
    options: { indexAxis: "y", animation: false, responsive: true, plugins: { legend: { display: false } },
               scales: { x: { beginAtZero: false } } }
  });
})();
