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
