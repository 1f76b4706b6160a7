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
