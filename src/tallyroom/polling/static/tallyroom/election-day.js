/* Election day: keep the dashboard live without reloading the page.
 * Every few seconds it asks the server for the dashboard's sections (rendered there, so the page
 * reads the same with or without this script) and swaps in those that changed. It pauses while the
 * tab is hidden and backs off when the connection drops. No dependencies; nothing leaves the site. */
(function () {
  "use strict";
  var root = document.querySelector("[data-live-url]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-live-url");
  var version = root.getAttribute("data-live-version") || "";
  var every = Math.max(2, parseInt(root.getAttribute("data-live-seconds") || "5", 10)) * 1000;
  var status = document.querySelector("[data-live-status]");
  var updatedText = root.getAttribute("data-updated-text") || "Updated at";
  var offlineText = root.getAttribute("data-offline-text") || "Connection lost; retrying.";
  var failures = 0;
  var timer = null;

  function schedule(delay) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(tick, delay);
  }

  function apply(body) {
    if (body.sections) {
      Object.keys(body.sections).forEach(function (name) {
        var section = root.querySelector('[data-live-section="' + name + '"]');
        if (section && section.innerHTML !== body.sections[name]) {
          section.innerHTML = body.sections[name];
        }
      });
      version = body.version;
      root.setAttribute("data-live-version", version);
    }
    if (status && body.updated) { status.textContent = updatedText + " " + body.updated; }
  }

  function tick() {
    if (document.hidden) { schedule(every); return; }
    var sep = url.indexOf("?") === -1 ? "?" : "&";
    fetch(url + sep + "v=" + encodeURIComponent(version), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (body) {
      failures = 0;
      apply(body);
      schedule(every);
    }).catch(function () {
      failures += 1;
      if (status) { status.textContent = offlineText; }
      schedule(Math.min(every * Math.pow(2, failures), 60000));
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { schedule(0); }
  });
  schedule(every);
})();
