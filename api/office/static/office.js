// Kyso's office pages: the parts that talk to the desktop agent on this PC. The
// pairing token the agent hands out is kept in this origin's localStorage, keyed by
// the agent's address and the person signed in; the API key typed for pairing goes only to the agent, and the
// PIN is typed only in the agent's own page.
"use strict";
(() => {
  const agent = document.body.dataset.agent;
  const person = document.body.dataset.person || "";
  // one pairing per person and agent: on a shared PC each person pairs for themselves
  const tokenKey = "kyso-agent-token:" + agent + ":" + person;
  const $ = (id) => document.getElementById(id);
  const say = (id, m) => { const e = $(id); if (e) e.textContent = m; };

  // callAgent calls the agent's local API; its refusals are problem+json.
  async function callAgent(method, path, body) {
    const headers = { "X-Kyso-Person": person };
    const tok = localStorage.getItem(tokenKey);
    if (tok) headers["Authorization"] = "Bearer " + tok;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let r;
    try {
      r = await fetch(agent + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error("Không kết nối được với agent tại " + agent + ". Agent Kyso đã chạy trên máy này chưa?");
    }
    const j = await r.json().catch(() => ({}));
    if (r.status === 401) localStorage.removeItem(tokenKey);
    if (!r.ok) throw new Error(j.detail || j.title || ("agent: " + r.status));
    return j;
  }

  // Pairing page.
  const pair = $("pair");
  if (pair) {
    if (localStorage.getItem(tokenKey)) $("paired").hidden = false;
    let pairing = null;
    $("pair-start").disabled = false; // the form works only through this script
    pair.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const key = $("pair-key");
      say("pair-status", "Đang gửi yêu cầu ghép nối tới agent…");
      try {
        pairing = await callAgent("POST", "/api/pair", { server: location.origin, api_key: key.value.trim(), person });
      } catch (e) { say("pair-status", e.message); return; }
      key.value = "";
      const a = $("confirm-url");
      a.href = pairing.confirm_url;
      $("pair-code-form").hidden = false;
      say("pair-status", "Agent đang hiển thị mã ghép nối.");
      $("pair-code").focus();
    });
    $("pair-code-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!pairing) return;
      try {
        const r = await callAgent("POST", "/api/pair/" + encodeURIComponent(pairing.pairing_id) + "/confirm",
          { code: $("pair-code").value.replace(/\s/g, "") });
        localStorage.setItem(tokenKey, r.token);
      } catch (e) { say("pair-status", e.message); return; }
      $("pair-code-form").hidden = true;
      $("paired").hidden = false;
      say("pair-status", "Đã ghép nối. Bạn có thể phê duyệt văn bản từ máy này.");
    });
  }

  // signWithAgent asks the server to prepare the approval of ids with the chosen
  // certificate, then hands the requests to the agent and opens its page for the PIN.
  async function signWithAgent(form, ids, statusId) {
    const fd = new FormData();
    fd.append("csrf", form.dataset.csrf); // first: the server checks it before anything else
    const cert = JSON.parse($("cert").value);
    for (const der of cert) fd.append("certificate", der);
    for (const id of ids) fd.append("document_id", id);
    const img = $("image");
    if (img && img.files.length) {
      fd.append("page", $("page").value);
      fd.append("rect", $("rect").value);
      fd.append("image", img.files[0]);
    }
    say(statusId, "Máy chủ đang chuẩn bị chữ ký…");
    const r = await fetch("/van-phong/phe-duyet", { method: "POST", body: fd, headers: { "Accept": "application/json" }, credentials: "same-origin" });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.detail || ("máy chủ: " + r.status));
    say(statusId, "Đang chuyển sang agent để nhập mã PIN…");
    const job = await callAgent("POST", "/api/jobs", { request_ids: j.request_ids });
    location.href = job.url;
  }

  // fillCertificates lists the personal certificates of the tokens plugged in.
  async function fillCertificates() {
    const sel = $("cert");
    const { tokens } = await callAgent("GET", "/api/tokens");
    sel.textContent = "";
    for (const t of tokens || []) {
      for (const c of t.certificates || []) {
        if (c.kind !== "personal" || !c.certificate) continue;
        const o = document.createElement("option");
        o.value = JSON.stringify(c.certificate);
        o.textContent = c.holder + " — " + c.issuer + " (hết hạn " + new Date(c.not_after).toLocaleDateString("vi-VN") + ", token " + t.label + ")";
        sel.append(o);
      }
    }
    if (!sel.options.length) throw new Error("Không thấy chứng thư số cá nhân nào trên token đang cắm.");
  }

  const approve = $("approve");
  if (approve) {
    (async () => {
      if (!localStorage.getItem(tokenKey)) { $("agent-missing").hidden = false; return; }
      try { await fillCertificates(); } catch (e) {
        if (!localStorage.getItem(tokenKey)) $("agent-missing").hidden = false;
        say("approve-status", e.message); return;
      }
      approve.hidden = false;
    })();
    approve.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("approve-btn").disabled = true;
      try { await signWithAgent(approve, approve.dataset.documents.split(","), "approve-status"); } catch (e) {
        say("approve-status", e.message);
        $("approve-btn").disabled = false;
      }
    });
  }

  // Several drafts in one agent job, from the list.
  const batch = $("batch-approve");
  if (batch && localStorage.getItem(tokenKey)) {
    batch.hidden = false;
    batch.addEventListener("click", async () => {
      const form = $("batch");
      const ids = [...form.querySelectorAll("input[name=document_id]:checked")].map((c) => c.value);
      if (!ids.length) return;
      location.href = "/van-phong/van-ban/" + ids[0] + "?lo=" + ids.join(",");
    });
  }

  const print = $("print");
  if (print) { print.hidden = false; print.addEventListener("click", () => window.print()); }
})();
