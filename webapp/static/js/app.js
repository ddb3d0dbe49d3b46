// Small progressive enhancements; every page works without them.
document.addEventListener("click", function (event) {
  // Copy-to-clipboard buttons for values shown once (API keys, invite links).
  var button = event.target.closest("[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.getAttribute("data-copy"));
  button.textContent = "Copied";
});

// Forms that change something hard to undo ask first (data-confirm="question").
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// GET forms marked data-drop-empty leave empty fields out of the URL they push (?q=acme, not ?state=&q=acme).
document.addEventListener("htmx:configRequest", function (event) {
  var form = event.detail.elt;
  if (!form.hasAttribute || !form.hasAttribute("data-drop-empty")) return;
  var params = event.detail.parameters;
  var names = params instanceof FormData ? Array.from(new Set(params.keys())) : Object.keys(params);
  names.forEach(function (name) {
    var value = params instanceof FormData ? params.get(name) : params[name];
    if (value === "" || value === null) {
      if (params instanceof FormData) params.delete(name); else delete params[name];
    }
  });
});

// A link from Close names one message (/sync/?chat=N#message-M). When that message is older than
// the log's first page, open the page that starts with it (keyset: before = M + 1).
function openLinkedMessage() {
  var match = /^#message-(\d+)$/.exec(window.location.hash);
  if (!match || document.getElementById("message-" + match[1]) || !document.getElementById("sync-log")) return;
  var params = new URLSearchParams(window.location.search);
  if (params.get("before")) return;  // already on an older page: the message is not in this log
  params.set("before", String(Number(match[1]) + 1));
  window.location.replace(window.location.pathname + "?" + params.toString() + window.location.hash);
}
openLinkedMessage();
window.addEventListener("hashchange", openLinkedMessage);
