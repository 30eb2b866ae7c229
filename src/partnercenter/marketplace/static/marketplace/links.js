/* Share Product Link: the Copy button puts the link on the clipboard (falls back to selecting the
   text where the clipboard is not available, e.g. plain HTTP). */
(function () {
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy-link") : null;
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-target"));
    if (!input) return;
    input.select();
    var done = function () {
      button.textContent = button.getAttribute("data-copied") || button.textContent;
      button.setAttribute("data-state", "copied");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
