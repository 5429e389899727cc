/* The new-ticket form: geothai-backed location pickers and a citizen ID checked as it is typed. */
(function () {
  "use strict";
  var form = document.getElementById("ticket-form");
  var texts = JSON.parse(document.getElementById("form-texts").textContent);
  var province = document.getElementById("province"), district = document.getElementById("district");
  var postal = document.getElementById("postal_code"), cid = document.getElementById("citizen_id");

  function getJson(url) {
    return fetch(url, { headers: { "Accept": "application/json" } }).then(function (r) { return r.json(); });
  }

  function loadDistricts(selected) {
    district.replaceChildren(new Option(texts.choose, ""));
    if (!province.value) return Promise.resolve();
    return getJson(form.dataset.districts + "?province=" + encodeURIComponent(province.value)).then(function (body) {
      (body.districts || []).forEach(function (d) { district.appendChild(new Option(d.name, d.code)); });
      if (selected) district.value = selected;
    });
  }

  function lookUpPostalCode() {
    var status = document.getElementById("postal-status");
    if (!/^\d{5}$/.test(postal.value)) { status.textContent = ""; return; }
    getJson(form.dataset.postal + "?code=" + postal.value).then(function (body) {
      var found = body.districts || [];
      status.textContent = !found.length ? texts.postal_none : found.length > 1 ? texts.postal_many : "";
      if (!found.length) return;
      province.value = found[0].province;
      loadDistricts(found.length === 1 ? found[0].district : "");
    });
  }

  // The citizen ID's 13th digit: (11 - sum(d_i * (13 - i)) mod 11) mod 10, as ticketing/citizen_id.py.
  function checksumOk(digits) {
    var sum = 0;
    for (var i = 0; i < 12; i++) sum += Number(digits[i]) * (13 - i);
    return (11 - (sum % 11)) % 10 === Number(digits[12]);
  }

  var pending = null;
  function checkCitizenId() {
    var status = document.getElementById("cid-status");
    var digits = cid.value.replace(/[\s-]/g, "");
    cid.removeAttribute("aria-invalid");
    serverSaysBad = false;
    status.className = "hint";
    if (!digits) { status.textContent = ""; return; }
    if (!/^\d{13}$/.test(digits)) { status.textContent = texts.cid_short; return; }
    if (!checksumOk(digits)) {
      status.textContent = texts.cid_bad;
      status.className = "hint bad";
      cid.setAttribute("aria-invalid", "true");
      return;
    }
    clearTimeout(pending);
    pending = setTimeout(function () {
      getJson(form.dataset.cid + "?value=" + digits).then(function (body) {
        status.textContent = body.message;
        status.className = body.valid ? "hint good" : "hint bad";
        serverSaysBad = !body.valid;
        if (!body.valid) cid.setAttribute("aria-invalid", "true");
      });
    }, 200);
  }

  // A wrong citizen ID (the live check said so) keeps the form from being sent; empty is fine.
  var serverSaysBad = false;
  function citizenIdBlocks() {
    var digits = cid.value.replace(/[\s-]/g, "");
    if (!digits) return false;
    return !/^\d{13}$/.test(digits) || !checksumOk(digits) || serverSaysBad;
  }
  form.addEventListener("submit", function (event) {
    if (!citizenIdBlocks()) return;
    event.preventDefault();
    var status = document.getElementById("cid-status");
    status.textContent = texts.cid_block;
    status.className = "hint bad";
    cid.setAttribute("aria-invalid", "true");
    cid.focus();
  });

  province.addEventListener("change", function () { loadDistricts(""); });
  postal.addEventListener("input", lookUpPostalCode);
  cid.addEventListener("input", checkCitizenId);
  if (province.value) loadDistricts(district.dataset.selected);
})();
