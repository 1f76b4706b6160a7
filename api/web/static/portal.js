// Kyso's pages work without this script: it adds drag and drop onto the form and
// upload progress, and shows the answer in place.
(function () {
  "use strict";
  // the print button (a PDF of the report through the browser's own printing)
  document.addEventListener("click", function (ev) {
    if (ev.target && ev.target.id === "print") window.print();
  });
  function showPrint() {
    var b = document.getElementById("print");
    if (b) b.hidden = false;
  }
  showPrint();
  var form = document.getElementById("verify-form") || document.getElementById("compare-form");
  if (!form || !window.FormData || !window.XMLHttpRequest || !window.DOMParser) return;
  var drop = document.getElementById("drop");
  var file = document.getElementById("file");
  var content = document.getElementById("content");
  var hint = document.getElementById("drop-hint");
  var box = document.getElementById("progress-box");
  var bar = document.getElementById("progress");
  var label = document.getElementById("progress-label");
  var status = document.getElementById("status");
  if (hint) hint.hidden = false;

  function isSignature(f) { return /\.(p7s|p7m|sig)$/i.test(f.name); }

  // assign puts dropped files into the inputs: a .p7s and its content, or one file.
  function assign(files) {
    if (!files || !files.length) return;
    var dt1 = new DataTransfer(), dt2 = new DataTransfer();
    var sig = null, other = null;
    for (var i = 0; i < files.length && i < 2; i++) {
      if (isSignature(files[i]) && !sig) sig = files[i]; else other = other || files[i];
    }
    if (sig && content) {
      dt1.items.add(sig);
      if (other) dt2.items.add(other);
      file.files = dt1.files;
      content.files = dt2.files;
    } else {
      dt1.items.add(other || sig);
      file.files = dt1.files;
    }
  }
  ["dragenter", "dragover"].forEach(function (e) {
    drop.addEventListener(e, function (ev) { ev.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (e) {
    drop.addEventListener(e, function (ev) { ev.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (ev) { assign(ev.dataTransfer.files); });

  function show(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var main = doc.getElementById("main");
    if (!main) return false;
    document.title = doc.title;
    document.getElementById("main").replaceWith(main);
    showPrint();
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
    return true;
  }

  form.addEventListener("submit", function (ev) {
    if (!file.files.length) return; // the browser says what is missing
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    box.hidden = false;
    bar.value = 0;
    label.textContent = label.dataset.uploading;
    document.getElementById("submit").disabled = true;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
    };
    xhr.upload.onload = function () {
      bar.removeAttribute("value"); // indeterminate while the server checks
      label.textContent = label.dataset.checking;
      status.textContent = label.dataset.checking;
    };
    xhr.onload = function () {
      var type = xhr.getResponseHeader("Content-Type") || "";
      if (type.indexOf("text/html") === 0 && show(xhr.responseText)) return;
      // the limits answer as the API does (problem+json)
      var detail = xhr.statusText;
      try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) {}
      box.hidden = true;
      document.getElementById("submit").disabled = false;
      status.textContent = detail;
    };
    xhr.onerror = function () {
      box.hidden = true;
      document.getElementById("submit").disabled = false;
      status.textContent = "⚠ " + (xhr.statusText || "network error");
    };
    xhr.send(new FormData(form));
  });
})();
