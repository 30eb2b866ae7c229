/* Payout applications (I7): the application amount while the partner ticks earnings. Exact: the
   amounts are decimal text, added as integers of the currency's minor unit (never floats). The
   server computes the amount again when the form is submitted. */
(function () {
  function units(text, places) {
    var negative = text.charAt(0) === "-";
    var parts = text.replace("-", "").split(".");
    var frac = (parts[1] || "").padEnd(places, "0").slice(0, places);
    var value = BigInt(parts[0] || "0") * BigInt(10) ** BigInt(places) + BigInt(frac || "0");
    return negative ? -value : value;
  }

  function shown(value, places) {
    var negative = value < 0n;
    var digits = (negative ? -value : value).toString().padStart(places + 1, "0");
    var whole = digits.slice(0, digits.length - places).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var text = places > 0 ? whole + "." + digits.slice(digits.length - places) : whole;
    return (negative ? "-" : "") + text;
  }

  function refresh(form) {
    var places = parseInt(form.getAttribute("data-places") || "2", 10);
    var total = 0n;
    form.querySelectorAll("input[type=checkbox][data-amount]").forEach(function (box) {
      if (box.checked) total += units(box.getAttribute("data-amount"), places);
    });
    var output = form.querySelector("[data-role=total]");
    if (output) output.textContent = shown(total, places);
    var short = form.querySelector("[data-role=short]");
    if (short) short.hidden = total >= 0n;
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest ? event.target.closest("form.payout-form") : null;
    if (form) refresh(form);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.payout-form").forEach(refresh);
  });
})();
