/* The live queue and the agent's desk: one server-sent event stream, no page reloads.
   Everything is written with textContent: caller data never becomes markup. */
(function () {
  "use strict";
  var script = document.currentScript;
  var texts = JSON.parse(document.getElementById("desk-texts").textContent);
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  var waits = [];

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function waitText(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m ? m + " " + texts.minutes + " " + s + " " + texts.seconds : s + " " + texts.seconds;
  }

  function renderQueue(data) {
    var rows = document.getElementById("queue-rows");
    var received = Date.now();
    rows.replaceChildren();
    waits = [];
    document.getElementById("queue-count").textContent = data.callers.length;
    if (!data.callers.length) {
      var empty = el("tr"), cell = el("td", texts.none_waiting);
      cell.colSpan = 5;
      empty.appendChild(cell);
      rows.appendChild(empty);
    }
    data.callers.forEach(function (c) {
      var tr = el("tr");
      tr.dataset.sid = c.sid;
      var wait = el("td", waitText(c.wait_s), "mono wait");
      waits.push({ cell: wait, base: c.wait_s, at: received });
      tr.appendChild(wait);
      var who = el("td", c.phone, "mono");
      if (c.simulated) who.appendChild(el("span", texts.simulated, "tag"));
      tr.appendChild(who);
      tr.appendChild(el("td", c.category || "-"));
      tr.appendChild(el("td", c.path || "-"));
      tr.appendChild(el("td", c.tickets + " " + texts.tickets));
      rows.appendChild(tr);
    });
    var agents = document.getElementById("agent-list");
    if (agents) {
      agents.replaceChildren();
      if (!data.agents.length) agents.appendChild(el("li", texts.no_agents));
      data.agents.forEach(function (a) {
        var li = el("li");
        li.appendChild(el("strong", a.name));
        li.appendChild(el("span", a.label, "agent-state state-" + a.state));
        li.appendChild(el("span", a.since, "when"));
        agents.appendChild(li);
      });
    }
  }

  function list(id, items, empty, fill) {
    var ul = document.getElementById(id);
    ul.replaceChildren();
    if (!items.length) ul.appendChild(el("li", empty));
    items.forEach(function (item) { ul.appendChild(fill(item)); });
  }

  function renderDesk(desk) {
    var state = document.getElementById("my-state");
    if (!state) return;
    state.textContent = desk.label;
    state.dataset.state = desk.state;
    state.className = "agent-state state-" + desk.state;
    document.querySelectorAll("#state-buttons button").forEach(function (b) {
      b.disabled = b.dataset.state === desk.state || desk.state === "on_call" || desk.state === "wrap_up";
    });
    var take = document.getElementById("take-next"), end = document.getElementById("end-call");
    if (take) take.disabled = desk.state === "on_call" || desk.state === "wrap_up";
    if (end) end.hidden = desk.state !== "on_call";
    document.getElementById("wrap-up").hidden = desk.state !== "wrap_up";
    var pop = desk.pop, card = document.getElementById("screen-pop");
    card.hidden = !pop;
    if (!pop) return;
    document.getElementById("pop-phone").textContent = pop.phone;
    document.getElementById("pop-simulated").hidden = !pop.simulated;
    document.getElementById("pop-category").textContent = pop.category || "-";
    document.getElementById("pop-path").textContent = pop.path || "-";
    document.getElementById("pop-postal").textContent = pop.postal_code || "-";
    document.getElementById("pop-new-ticket").href = pop.new_ticket_url;
    list("pop-tickets", pop.tickets, texts.no_tickets, function (t) {
      var n = t.number, li = el("li"), a = el("a", n.slice(0, 2) + "-" + n.slice(2, -1) + "-" + n.slice(-1), "mono");
      a.href = t.url;
      li.appendChild(a);
      li.appendChild(el("span", " " + t.category + " · " + t.status + " · " + t.at));
      return li;
    });
    list("pop-calls", pop.calls, texts.no_calls, function (c) {
      return el("li", c.at + (c.outcome ? " · " + c.outcome : ""));
    });
  }

  function showError(message) {
    var box = document.getElementById("desk-error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: new URLSearchParams(data || {}),
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.message || response.statusText);
        return body;
      });
    }).then(function (body) {
      showError("");
      if (body.state) renderDesk(body);
      return body;
    }).catch(function (error) { showError(error.message); });
  }

  // The browser phone: a fresh token per call; Twilio asks /twilio/agent what to dial (the queue).
  function browserPhone(button) {
    var hangup = document.getElementById("browser-hangup");
    fetch(button.dataset.token, { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (b) { if (!r.ok) throw new Error(b.message); return b; }); })
      .then(function (body) {
        var device = new window.Twilio.Device(body.token, { codecPreferences: ["opus", "pcmu"] });
        return device.connect();
      })
      .then(function (call) {
        button.disabled = true;
        hangup.hidden = false;
        hangup.onclick = function () { call.disconnect(); };
        call.on("disconnect", function () { button.disabled = false; hangup.hidden = true; });
      })
      .catch(function (error) { showError(error.message); });
  }

  document.querySelectorAll("#state-buttons button").forEach(function (b) {
    b.addEventListener("click", function () { post(script.dataset.stateUrl, { state: b.dataset.state }); });
  });
  ["take-next", "end-call"].forEach(function (id) {
    var b = document.getElementById(id);
    if (b) b.addEventListener("click", function () { post(b.dataset.url); });
  });
  var phoneButton = document.getElementById("browser-phone");
  if (phoneButton) phoneButton.addEventListener("click", function () { browserPhone(phoneButton); });
  ["wrap-up-form", "call-me"].forEach(function (id) {
    var form = document.getElementById(id);
    if (form) form.addEventListener("submit", function (event) {
      event.preventDefault();
      post(form.getAttribute("action"), new FormData(form));
    });
  });

  setInterval(function () {
    var now = Date.now();
    waits.forEach(function (w) { w.cell.textContent = waitText(w.base + Math.floor((now - w.at) / 1000)); });
  }, 1000);

  var source = new EventSource(script.dataset.live);
  source.addEventListener("queue", function (e) { renderQueue(JSON.parse(e.data)); });
  source.addEventListener("desk", function (e) { renderDesk(JSON.parse(e.data)); });
})();
