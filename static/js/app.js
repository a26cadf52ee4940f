// Kent Customer Services: small behaviours shared by every page. No inline script anywhere
// (the Content Security Policy forbids it); pages opt in with data- attributes.
(function () {
  "use strict";
  // <button data-print> opens the print dialog.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-print]");
    if (button) { event.preventDefault(); window.print(); }
  });
  // <form data-confirm="Are you sure?"> asks before submitting.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
  // htmx progress bars set their width from data-percent (no inline styles under CSP).
  function applyWidths(root) {
    root.querySelectorAll("[data-percent]").forEach(function (bar) {
      bar.style.width = bar.getAttribute("data-percent") + "%";
    });
  }
  // Bank statement import: choosing an account fills in the columns of its last CSV.
  document.addEventListener("change", function (event) {
    if (event.target.id !== "id_csv_account") { return; }
    var saved = document.getElementById("csv-saved-columns");
    var columns = saved ? JSON.parse(saved.textContent)[event.target.value] : null;
    if (!columns) { return; }
    event.target.form.querySelectorAll("input[name^='csv_']").forEach(function (input) {
      input.value = columns[input.name] || "";
    });
  });
  document.addEventListener("DOMContentLoaded", function () { applyWidths(document); });
  document.addEventListener("htmx:afterSwap", function (event) { applyWidths(event.target); });
})();
