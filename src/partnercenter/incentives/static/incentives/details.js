// The Details tab's dialogs: Close/Cancel empties the dialog area (the line or form was loaded
// into it by htmx); on a page of its own (no JavaScript dialogs) it goes back to the list.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-close-dialog]");
  if (!button) return;
  var dialog = document.getElementById("dialog");
  if (dialog && document.getElementById("incentive-details")) {
    dialog.innerHTML = "";
  } else {
    window.history.back();
  }
});
