// Kyso's pages work without this script: it adds drag and drop onto the form, upload
// progress, a print button, and shows the answer in place (then binds the new page's
// form the same way).
(function () {
  "use strict";
  if (!window.FormData || !window.XMLHttpRequest || !window.DOMParser) return;

  // the print button (a PDF of the report through the browser's own printing)
  document.addEventListener("click", function (ev) {
    if (ev.target && ev.target.id === "print") window.print();
  });

  function isSignature(f) { return /\.(p7s|p7m|sig)$/i.test(f.name); }

  function init() {
    var print = document.getElementById("print");
    if (print) print.hidden = false;
    var form = document.getElementById("verify-form") || document.getElementById("compare-form");
    if (!form) return;
    var drop = document.getElementById("drop");
    var file = document.getElementById("file");
    var content = document.getElementById("content");
    var hint = document.getElementById("drop-hint");
    var box = document.getElementById("progress-box");
    var bar = document.getElementById("progress");
    var label = document.getElementById("progress-label");
    var status = document.getElementById("status");
    var submit = document.getElementById("submit");
    if (hint) hint.hidden = false;

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

    function done(message) {
      box.hidden = true;
      submit.disabled = false;
      status.textContent = message;
    }

    form.addEventListener("submit", function (ev) {
      if (!file.files.length) return; // the browser says what is missing
      ev.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      box.hidden = false;
      bar.value = 0;
      label.textContent = label.dataset.uploading;
      submit.disabled = true;
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
        var detail = xhr.statusText; // a problem+json from the limits, should one come
        try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) {}
        done(detail);
      };
      xhr.onerror = function () { done("⚠ " + (xhr.statusText || "network error")); };
      xhr.send(new FormData(form));
    });
  }

  // show puts the answer's main in place of this page's, and binds its form.
  function show(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var main = doc.getElementById("main");
    if (!main) return false;
    document.title = doc.title;
    document.getElementById("main").replaceWith(main);
    init();
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
    return true;
  }

  init();
})();
