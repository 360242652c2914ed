/* werbench dashboard behaviour that must run in the browser: grid refresh, keyboard navigation, seek-on-click. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  werbench: {
    /* A quick filter changed: drop the grid's cached blocks so it asks the server again. */
    purgeGrid: function (context, gridId) {
      if (window.dash_ag_grid && gridId) {
        window.dash_ag_grid.getApiAsync(gridId).then(function (api) { api.purgeInfiniteCache(); });
      }
      return Date.now();
    },
  },
});

(function () {
  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  /* Previous / next utterance with the arrow keys (or k / j), as in an audio-annotation tool. */
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) { return; }
    var target = null;
    if (event.key === "ArrowLeft" || event.key === "k") { target = document.getElementById("utt-prev"); }
    if (event.key === "ArrowRight" || event.key === "j") { target = document.getElementById("utt-next"); }
    if (event.key === " " && document.getElementById("utt-audio")) {
      var audio = document.getElementById("utt-audio");
      if (audio.paused) { audio.play().catch(function () {}); } else { audio.pause(); }
      event.preventDefault();
      return;
    }
    if (target && !target.classList.contains("disabled")) { event.preventDefault(); target.click(); }
  });
  /* A word with a timing seeks the player to it and plays. */
  document.addEventListener("click", function (event) {
    var word = event.target.closest && event.target.closest("[data-start]");
    var audio = document.getElementById("utt-audio");
    if (!word || !audio) { return; }
    audio.currentTime = parseFloat(word.getAttribute("data-start"));
    audio.play().catch(function () {});
  });
})();
