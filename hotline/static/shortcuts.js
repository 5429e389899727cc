// Keyboard shortcuts of the console's ticket list and ticket page. Never while typing in a field.
(function () {
  "use strict";

  var help = document.getElementById("shortcut-help");
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-list] [data-row]"));
  var current = -1;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) {
      row.classList.toggle("selected", i === current);
      row.setAttribute("aria-selected", i === current ? "true" : "false");
    });
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function focus(id) {
    var field = document.getElementById(id);
    if (!field) return false;
    field.scrollIntoView({ block: "center" });
    field.focus();
    return true;
  }

  function open() {
    var link = current >= 0 && rows[current].querySelector("a");
    if (!link) return false;
    link.click();
    return true;
  }

  function toggleHelp() {
    if (!help) return false;
    if (help.open) help.close();
    else help.showModal();
    return true;
  }

  var keys = {
    "/": function () { return focus("ticket-search"); },
    "j": function () { select(current + 1); return rows.length > 0; },
    "k": function () { select(current - 1); return rows.length > 0; },
    "Enter": open,
    "n": function () { return focus("note-body"); },
    "s": function () { return focus("status-select"); },
    "a": function () { return focus("assignee-select"); },
    "u": function () { var back = document.getElementById("back-to-list"); if (back) back.click(); return !!back; },
    "?": toggleHelp,
  };

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target)) {
      event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typing(event.target) || (help && help.open && event.key !== "?")) return;
    // Enter on a focused link or button is that control's own; leave it alone.
    if (event.key === "Enter" && event.target.closest && event.target.closest("a, button")) return;
    var action = keys[event.key];
    if (action && action()) event.preventDefault();
  });
})();
