/* Flask-Gamify dashboard: draws the Dashboard's charts with the vendored Chart.js.
   The numbers come from <script type="application/json" id="gamify-dashboard-data">; the
   same numbers are in the tables beside each chart, so the page reads without this. */
(function () {
  "use strict";

  var data = window.Gamify && window.Gamify.pageData("gamify-dashboard-data");
  if (!data || !window.Chart) { return; }

  var COLORS = {events: "#4e79a7", awards: "#59a14f", started: "#a0cbe8", completed: "#59a14f"};

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    config.options = Object.assign({
      animation: false,
      maintainAspectRatio: false,
      responsive: true
    }, config.options || {});
    new window.Chart(canvas, config);
    canvas.setAttribute("data-rendered", "true");
  }

  function counts(axis) {
    var scales = {};
    scales[axis] = {beginAtZero: true, ticks: {precision: 0}};
    return scales;
  }

  /* "2026-05-04" -> "05-04": the year is in the table. */
  var days = data.days.map(function (day) { return day.slice(5); });

  function perDay(id, label, values, color) {
    draw(id, {
      type: "bar",
      data: {labels: days, datasets: [{label: label, data: values, backgroundColor: color}]},
      options: {plugins: {legend: {display: false}}, scales: counts("y")}
    });
  }

  perDay("events-chart", "Events", data.events, COLORS.events);
  perDay("awards-chart", "Awards", data.awards, COLORS.awards);

  draw("top-goals-chart", {
    type: "bar",
    data: {
      labels: data.topGoals.labels,
      datasets: [{label: "Awards", data: data.topGoals.awards, backgroundColor: COLORS.awards}]
    },
    options: {indexAxis: "y", plugins: {legend: {display: false}}, scales: counts("x")}
  });

  draw("funnel-chart", {
    type: "bar",
    data: {
      labels: data.funnel.labels,
      datasets: [
        {label: "Started", data: data.funnel.started, backgroundColor: COLORS.started},
        {label: "Completed", data: data.funnel.completed, backgroundColor: COLORS.completed}
      ]
    },
    options: {indexAxis: "y", scales: counts("x")}
  });
})();
