/* Select all: the header box ticks every customer on the page; it shows "some" when only some are. */
document.addEventListener("change", function (event) {
  var table = document.getElementById("assignment-table");
  if (!table || !table.contains(event.target)) return;
  var boxes = table.querySelectorAll("tbody input[name=customer]:not(:disabled)");
  var all = document.getElementById("select-all");
  if (event.target === all) {
    boxes.forEach(function (box) { box.checked = all.checked; });
  } else if (all) {
    var ticked = Array.prototype.filter.call(boxes, function (box) { return box.checked; }).length;
    all.checked = ticked > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
});
