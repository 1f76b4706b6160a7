// Opens a job's page: the web page that listed the job sent the browser here with the
// job's session in the URL's fragment (never sent to a server); trade it for the
// page's cookie, then load the page without it.
(function () {
  var open = document.getElementById("open-session");
  if (!open) return;
  var m = /(?:^#|&)session=([0-9a-f]+)/.exec(location.hash);
  var bad = function () {
    document.getElementById("opening").hidden = true;
    document.getElementById("bad-link").hidden = false;
  };
  if (!m || !window.fetch) { bad(); return; }
  fetch(location.pathname + "/session", {method: "POST", credentials: "same-origin", headers: {"X-Kyso-Session": m[1]}})
    .then(function (r) { if (r.ok) location.replace(location.pathname + location.search); else bad(); }, bad);
})();

// Follows a job's progress on the agent's page; reloads when it is done so the
// server renders the final state.
(function () {
  var job = document.getElementById("job");
  if (!job || job.dataset.state !== "signing" || !window.EventSource) return;
  var es = new EventSource("/jobs/" + encodeURIComponent(job.dataset.job) + "/events");
  es.addEventListener("progress", function (e) {
    var p = JSON.parse(e.data);
    var bar = document.getElementById("bar");
    if (bar) bar.value = p.completed;
    var c = document.getElementById("counts");
    if (c) c.textContent = p.completed + "/" + p.total + (p.failed ? " · " + p.failed : "");
    if (p.state === "done") { es.close(); location.reload(); }
  });
})();
