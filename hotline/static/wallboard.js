// Live wallboard: server-sent events; the server ends each stream after a while and the
// browser reconnects on its own (the stream's "retry:" sets the delay).
(function () {
  "use strict";
  var board = document.querySelector("[data-stream]");
  if (!board || !window.EventSource) { return; }
  var state = board.querySelector("[data-live-state]");
  var source = new EventSource(board.getAttribute("data-stream"));
  function percent(value) { return value === null ? "—" : (value * 100).toFixed(1) + "%"; }
  source.addEventListener("live", function (event) {
    var figures = JSON.parse(event.data);
    board.querySelectorAll("[data-live]").forEach(function (cell) {
      var value = figures[cell.getAttribute("data-live")];
      cell.textContent = cell.hasAttribute("data-percent") ? percent(value) : String(value);
    });
    board.setAttribute("data-updated", String(Date.now()));
    if (state) { state.textContent = ""; }
  });
  source.onerror = function () { if (state) { state.textContent = "…"; } };
}());
