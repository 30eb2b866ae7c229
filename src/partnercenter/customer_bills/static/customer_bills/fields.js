/* Set table display fields (C3): order the field list by dragging (native HTML5 drag and drop) or
   with the up/down buttons (keyboard users). The form posts the ticked fields in list order. */
(function () {
  var dragged = null;

  function item(target) {
    return target && target.closest ? target.closest(".field-list li") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var li = item(event.target);
    if (!li) return;
    dragged = li;
    li.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", li.getAttribute("data-key") || "");
  });

  document.addEventListener("dragover", function (event) {
    var li = item(event.target);
    if (!dragged || !li || li === dragged || li.parentNode !== dragged.parentNode) return;
    event.preventDefault();
    var box = li.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    li.parentNode.insertBefore(dragged, after ? li.nextSibling : li);
  });

  document.addEventListener("drop", function (event) {
    if (dragged && item(event.target)) event.preventDefault();
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".field-list button.move") : null;
    if (!button) return;
    var li = item(button);
    if (button.getAttribute("data-move") === "up" && li.previousElementSibling) {
      li.parentNode.insertBefore(li, li.previousElementSibling);
    } else if (button.getAttribute("data-move") === "down" && li.nextElementSibling) {
      li.parentNode.insertBefore(li.nextElementSibling, li);
    }
    button.focus();
  });
})();
