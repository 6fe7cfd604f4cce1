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
