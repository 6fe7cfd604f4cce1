// digest sink: the only script of the web view. It adds two things to pages that work without
// it: the message list updates itself when mail arrives (server-sent events), and the preview
// switches width without a reload. Captured text only ever goes in through textContent.
"use strict";

(function () {
  const table = document.getElementById("messages");
  if (table && window.EventSource) {
    const source = new EventSource(table.dataset.live);
    source.addEventListener("mailbox", () => refresh(table));
  }

  async function refresh(table) {
    const response = await fetch(table.dataset.api, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    table.tBodies[0].replaceChildren(...data.messages.map(row));
    document.getElementById("count").textContent = String(data.count);
    document.getElementById("empty").hidden = data.count > 0;
    document.getElementById("delete-all").disabled = data.count === 0;
    document.title = data.count + " messages · digest sink";
  }

  function cell(className, child) {
    const td = document.createElement("td");
    td.className = className;
    td.append(child);
    return td;
  }

  function row(m) {
    const tr = document.createElement("tr");
    const time = document.createElement("time");
    time.dateTime = m.received;
    time.textContent = m.received_text;
    const link = document.createElement("a");
    link.href = m.url;
    link.textContent = m.subject || "(no subject)";
    tr.append(cell("when", time), cell("to", m.to), cell("subject", link),
              cell("num", m.size_text));
    return tr;
  }

  // A check still running on the server (SpamAssassin): ask until it is done, then show it.
  for (const item of document.querySelectorAll("li[data-pending]")) {
    poll(item);
  }

  async function poll(item) {
    for (let tries = 0; tries < 120; tries++) {
      const response = await fetch(item.dataset.pending, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const check = await response.json();
      if (!check.pending) {
        showCheck(item, check);
        return;
      }
      await new Promise((done) => setTimeout(done, 1000));
    }
  }

  function badge(verdict) {
    const span = document.createElement("span");
    span.className = "verdict " + verdict;
    span.textContent = verdict;
    return span;
  }

  function showCheck(item, check) {
    const details = document.createElement("details");
    details.open = check.verdict === "fail";
    const summary = document.createElement("summary");
    const name = document.createElement("strong");
    name.textContent = check.name;
    summary.append(badge(check.verdict), " ", name, ": " + check.summary);
    details.append(summary);
    if (check.findings.length) {
      const list = document.createElement("ul");
      list.className = "findings";
      for (const finding of check.findings) {
        const li = document.createElement("li");
        li.append(badge(finding.verdict), " " + finding.text);
        list.append(li);
      }
      details.append(list);
    }
    item.replaceChildren(details);
    item.className = "check " + check.verdict;
    item.dataset.verdict = check.verdict;
    delete item.dataset.pending;
    const rank = { skip: 0, pass: 1, warn: 2, fail: 3 };
    let worst = "pass";
    for (const other of document.querySelectorAll("li[data-verdict]")) {
      if (rank[other.dataset.verdict] > rank[worst]) worst = other.dataset.verdict;
    }
    const overall = document.getElementById("overall");
    overall.className = "verdict " + worst;
    overall.textContent = worst;
  }

  const frame = document.getElementById("preview-frame");
  const toggles = document.querySelectorAll("a[data-width]");
  for (const toggle of toggles) {
    toggle.addEventListener("click", (event) => {
      event.preventDefault();
      frame.setAttribute("width", toggle.dataset.width);
      for (const other of toggles) {
        other.classList.toggle("current", other === toggle);
        if (other === toggle) other.setAttribute("aria-current", "true");
        else other.removeAttribute("aria-current");
      }
      history.replaceState(null, "", toggle.href);
    });
  }
})();
