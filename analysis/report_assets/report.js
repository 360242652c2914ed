// werbench report: draw the plotly specs and switch tabs. No network, no other library.
(function () {
  "use strict";

  function drawPlots() {
    document.querySelectorAll("script[data-plot]").forEach(function (node) {
      var target = document.getElementById(node.getAttribute("data-plot"));
      if (!target || target.dataset.drawn) return;
      var spec = JSON.parse(node.textContent);
      Plotly.newPlot(target, spec.data, spec.layout, {
        displaylogo: false,
        responsive: true,
        modeBarButtonsToRemove: ["lasso2d", "select2d"],
      });
      target.dataset.drawn = "1";
    });
  }

  function setUpTabs() {
    document.querySelectorAll("[data-tabs]").forEach(function (tabs) {
      var buttons = tabs.querySelectorAll("[data-tab]");
      buttons.forEach(function (button) {
        button.addEventListener("click", function () {
          buttons.forEach(function (other) {
            other.classList.toggle("active", other === button);
            var panel = document.getElementById(other.getAttribute("data-tab"));
            if (panel) panel.hidden = other !== button;
          });
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpTabs();
    drawPlots();
  });
})();
