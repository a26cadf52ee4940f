// Kent Customer Services: the counter screen. Opening count totals, the receipt entry
// keyboard flow (search, arrows, Enter adds, Enter posts), live totals and change, and
// the print page's keys. No inline script anywhere: pages opt in with data- attributes.
//
// Money is handled in integer cents, never in floating-point dollars.
(function () {
  "use strict";

  // ------------------------------------------------------------------ money helpers

  function parseCents(text) {
    if (text === null || text === undefined) { return null; }
    var s = String(text).trim().replace(/[$,\s]/g, "");
    if (!s) { return null; }
    var negative = false;
    if (/^\(.*\)$/.test(s)) { negative = true; s = s.slice(1, -1); }
    if (s.charAt(0) === "-") { negative = !negative; s = s.slice(1); }
    var match = /^(\d*)(?:\.(\d*))?$/.exec(s);
    if (!match || (match[1] === "" && !match[2])) { return null; }
    var fraction = match[2] || "";
    var cents = parseInt(match[1] || "0", 10) * 100 + parseInt((fraction + "00").slice(0, 2), 10);
    if (fraction.length > 2 && parseInt(fraction.charAt(2), 10) >= 5) { cents += 1; } // half up
    return negative ? -cents : cents;
  }

  // A quantity in thousandths (the receipt keeps three decimals).
  function parseMilli(text) {
    var s = String(text || "").trim().replace(/,/g, "");
    if (!s) { return 1000; }
    var match = /^(\d*)(?:\.(\d{0,3}))?$/.exec(s);
    if (!match || (match[1] === "" && !match[2])) { return null; }
    return parseInt(match[1] || "0", 10) * 1000 + parseInt(((match[2] || "") + "000").slice(0, 3), 10);
  }

  function formatCents(cents) {
    var negative = cents < 0;
    var abs = Math.abs(cents);
    var dollars = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var rest = (abs % 100).toString();
    return (negative ? "-" : "") + dollars + "." + (rest.length < 2 ? "0" + rest : rest);
  }

  function plainCents(cents) { return formatCents(cents).replace(/,/g, ""); }

  function focusAndSelect(input) {
    if (!input) { return; }
    input.focus();
    if (typeof input.select === "function") { input.select(); }
  }

  // ------------------------------------------------------------- opening float count

  function initCount(form) {
    var total = form.querySelector("[data-count-total]");
    // A deposit may give rolled coin as a total: the grand total adds it, and says how it
    // compares with the cash to deposit.
    var extra = form.querySelector("[data-count-extra]");
    var grand = form.querySelector("[data-count-grand]");
    var dueHolder = form.querySelector("[data-count-due]");
    var difference = form.querySelector("[data-count-difference]");
    function updateGrand(sum) {
      if (!grand) { return; }
      var coin = extra ? parseCents(extra.value) : 0;
      var counted = sum + (coin > 0 ? coin : 0);
      grand.textContent = formatCents(counted);
      if (!dueHolder || !difference) { return; }
      var due = parseCents(dueHolder.getAttribute("data-count-due"));
      if (due === null || isNaN(due)) { difference.textContent = ""; return; }
      if (counted === due) {
        difference.textContent = "(matches the cash to deposit)";
      } else if (counted < due) {
        difference.textContent = "(" + formatCents(due - counted) + " short of the cash to deposit)";
      } else {
        difference.textContent = "(" + formatCents(counted - due) + " over the cash to deposit)";
      }
    }
    function update() {
      var sum = 0;
      form.querySelectorAll("[data-denomination]").forEach(function (input) {
        var pieces = parseInt(input.value, 10);
        var value = parseCents(input.getAttribute("data-denomination")) || 0;
        var amount = pieces > 0 ? pieces * value : 0;
        sum += amount;
        var output = form.querySelector("output[for='" + input.id + "']");
        if (output) { output.textContent = formatCents(amount); }
      });
      if (total) { total.textContent = formatCents(sum); }
      updateGrand(sum);
    }
    form.addEventListener("input", update);
    update();
  }

  // ------------------------------------------------------------------ receipt entry

  function initReceipt(form) {
    var search = document.getElementById("payer-search");
    var resultsBox = document.getElementById("lookup-results");
    var lines = document.getElementById("receipt-lines");
    var tenders = form.querySelector("[data-tenders]");
    var template = document.getElementById("tender-template");
    var payer = form.querySelector("[data-payer-name]");
    var emptyNote = form.querySelector("[data-lines-empty]");
    var warning = form.querySelector("[data-tender-warning]");
    var postButton = form.querySelector("[data-post-button]");
    var lineUrl = form.getAttribute("data-line-url");
    var pendingEnter = false;
    var adding = false;
    var tenderSeq = tenders.querySelectorAll("[data-tender]").length;
    var SERVICE_CHANGE_MESSAGE = "Change can only be given from cash: checks, cards and other " +
      "tenders may not be for more than the amount due.";

    // -- search results ----------------------------------------------------------

    function resultItems() { return Array.prototype.slice.call(resultsBox.querySelectorAll("[data-result]")); }

    function resultsAreCurrent() {
      var box = resultsBox.querySelector("[data-lookup-results]");
      return !!box && box.getAttribute("data-q") === search.value.trim();
    }

    function activeIndex(items) {
      for (var i = 0; i < items.length; i++) {
        if (items[i].classList.contains("active")) { return i; }
      }
      return -1;
    }

    function setActive(items, index) {
      items.forEach(function (item, i) {
        var on = i === index;
        item.classList.toggle("active", on);
        item.setAttribute("aria-selected", on ? "true" : "false");
      });
      if (items[index]) {
        search.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      } else {
        search.removeAttribute("aria-activedescendant");
      }
    }

    function clearResults() {
      resultsBox.innerHTML = "";
      search.setAttribute("aria-expanded", "false");
      search.removeAttribute("aria-activedescendant");
    }

    search.addEventListener("keydown", function (event) {
      var items = resultItems();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!items.length) { return; }
        event.preventDefault();
        var index = activeIndex(items) + (event.key === "ArrowDown" ? 1 : -1);
        setActive(items, Math.max(0, Math.min(items.length - 1, index)));
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (resultsAreCurrent() && items.length) {
          addResult(items[Math.max(0, activeIndex(items))]);
        } else if (search.value.trim().length >= 2) {
          // Typed faster than the search answered: add the first result when it does.
          pendingEnter = true;
          htmx.trigger(search, "search");
        } else if (!search.value.trim() && lineRows().length) {
          focusAndSelect(firstTenderAmount()); // nothing more to add: on to the payment
        }
      } else if (event.key === "Escape") {
        clearResults();
      }
    });

    search.addEventListener("input", function () {
      if (!search.value.trim()) { pendingEnter = false; clearResults(); }
    });

    resultsBox.addEventListener("click", function (event) {
      var item = event.target.closest("[data-result]");
      if (item) { addResult(item); }
    });

    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target !== resultsBox) { return; }
      if (!search.value.trim()) { clearResults(); return; } // an answer that came too late
      var items = resultItems();
      search.setAttribute("aria-expanded", items.length ? "true" : "false");
      if (items.length) { setActive(items, 0); }
      if (pendingEnter && resultsAreCurrent()) {
        pendingEnter = false;
        if (items.length) { addResult(items[0]); }
      }
    });

    // -- lines -------------------------------------------------------------------

    function lineRows() { return Array.prototype.slice.call(lines.querySelectorAll("[data-line]")); }

    function findLine(kind, ref) {
      return lineRows().filter(function (row) {
        return row.getAttribute("data-kind") === kind && row.getAttribute("data-ref") === ref;
      })[0];
    }

    function addResult(item) {
      var kind = item.getAttribute("data-kind");
      var ref = item.getAttribute("data-ref");
      search.value = "";
      clearResults();
      var existing = findLine(kind, ref);
      if (existing) {
        // Paying the same item twice on one receipt is a mistake: go to its line instead.
        focusAndSelect(existing.querySelector("[data-line-input]"));
        return;
      }
      if (adding) { return; }
      adding = true;
      var before = lineRows().length;
      var url = lineUrl + "?kind=" + encodeURIComponent(kind) + "&ref=" + encodeURIComponent(ref);
      htmx.ajax("GET", url, { target: lines, swap: "beforeend" }).then(function () {
        adding = false;
        var rows = lineRows();
        if (rows.length > before) { lineAdded(rows[rows.length - 1]); }
      }, function () { adding = false; });
    }

    function firstTenderAmount() { return tenders.querySelector("[data-tender-amount]"); }

    function lineAdded(row) {
      var priced = row.getAttribute("data-priced") === "true";
      if (!priced && payer && (!payer.value.trim() || payer.getAttribute("data-auto") === "true")) {
        if (!lineRows().some(function (r) { return r !== row && r.getAttribute("data-priced") !== "true"; })) {
          payer.value = row.getAttribute("data-name") || "";
          payer.setAttribute("data-auto", "true");
        }
      }
      recompute();
      var blank = Array.prototype.slice.call(row.querySelectorAll("[data-line-input]")).filter(function (input) {
        return !input.value.trim();
      })[0];
      if (blank) { focusAndSelect(blank); }
      else if (payer && !payer.value.trim()) { payer.focus(); }
      else { focusAndSelect(firstTenderAmount()); }
    }

    lines.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-line]");
      if (!button) { return; }
      button.closest("[data-line]").remove();
      recompute();
      search.focus();
    });

    lines.addEventListener("input", recompute);

    if (payer) {
      payer.addEventListener("input", function () { payer.setAttribute("data-auto", "false"); });
    }

    // Enter in a line or in the payer's name goes to the payment, never posts by surprise.
    form.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.isComposing) { return; }
      var target = event.target;
      if (target.closest("[data-line]") || target.name === "payer_name" || target.name === "memo") {
        event.preventDefault();
        focusAndSelect(firstTenderAmount());
      }
    });

    // -- tenders -----------------------------------------------------------------

    function tenderRows() { return Array.prototype.slice.call(tenders.querySelectorAll("[data-tender]")); }

    function selectedOption(row) {
      var select = row.querySelector("[data-tender-type]");
      return select ? select.options[select.selectedIndex] : null;
    }

    function showFieldsFor(row) {
      var option = selectedOption(row);
      var kind = option ? option.getAttribute("data-kind") : "";
      row.querySelectorAll(".tender-fields").forEach(function (group) {
        var kinds = (group.getAttribute("data-for") || "").split(" ");
        group.classList.toggle("d-none", kinds.indexOf(kind) === -1);
      });
    }

    tenders.addEventListener("input", function (event) {
      if (event.target.matches("[data-tender-amount]")) {
        event.target.closest("[data-tender]").setAttribute("data-auto", "false");
      }
      recompute();
    });

    tenders.addEventListener("change", function (event) {
      if (!event.target.matches("[data-tender-type]")) { return; }
      var row = event.target.closest("[data-tender]");
      showFieldsFor(row);
      var option = selectedOption(row);
      var checkPayer = row.querySelector("[data-check-payer]");
      if (option && option.getAttribute("data-kind") === "check" && checkPayer && !checkPayer.value && payer) {
        checkPayer.value = payer.value;
      }
      recompute();
    });

    tenders.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-tender]");
      if (!button) { return; }
      var rows = tenderRows();
      if (rows.length < 2) { return; }
      button.closest("[data-tender]").remove();
      recompute();
      focusAndSelect(firstTenderAmount());
    });

    var addTenderButton = form.querySelector("[data-add-tender]");
    if (addTenderButton && template) {
      addTenderButton.addEventListener("click", function () {
        tenderSeq += 1;
        var holder = document.createElement("div");
        holder.innerHTML = template.innerHTML.replace(/__N__/g, "n" + tenderSeq);
        var row = holder.querySelector("[data-tender]");
        tenders.appendChild(row);
        var totals = currentTotals();
        var remaining = totals.total - totals.tendered;
        var amount = row.querySelector("[data-tender-amount]");
        if (remaining > 0) { amount.value = plainCents(remaining); }
        row.setAttribute("data-auto", "false");
        showFieldsFor(row);
        recompute();
        row.querySelector("[data-tender-type]").focus();
      });
    }

    // -- totals ------------------------------------------------------------------

    function lineCents(row) {
      if (row.getAttribute("data-priced") === "true") {
        var quantity = parseMilli((row.querySelector("[data-line-quantity]") || {}).value);
        var price = parseCents((row.querySelector("[data-line-price]") || {}).value);
        var output = row.querySelector("[data-line-amount]");
        if (quantity === null || price === null) {
          if (output) { output.textContent = ""; }
          return 0;
        }
        var cents = Math.floor((quantity * price + 500) / 1000); // half up to the cent
        if (output) { output.textContent = formatCents(cents); }
        return cents;
      }
      return parseCents((row.querySelector("[data-line-amount-input]") || {}).value) || 0;
    }

    function currentTotals() {
      var total = lineRows().reduce(function (sum, row) { return sum + lineCents(row); }, 0);
      var tendered = 0;
      var cash = 0;
      tenderRows().forEach(function (row) {
        var amount = parseCents(row.querySelector("[data-tender-amount]").value) || 0;
        tendered += amount;
        var option = selectedOption(row);
        if (option && option.getAttribute("data-gives-change") === "true") { cash += amount; }
      });
      return { total: total, tendered: tendered, cash: cash };
    }

    function recompute() {
      var rows = lineRows();
      if (emptyNote) { emptyNote.classList.toggle("d-none", rows.length > 0); }
      var totals = currentTotals();
      var auto = tenderRows().filter(function (row) { return row.getAttribute("data-auto") === "true"; });
      if (auto.length && tenderRows().length === 1) {
        var input = auto[0].querySelector("[data-tender-amount]");
        var wanted = totals.total > 0 ? plainCents(totals.total) : "";
        if (input.value !== wanted) {
          input.value = wanted;
          totals = currentTotals();
        }
      }
      var change = Math.max(0, totals.tendered - totals.total);
      form.querySelector("[data-total-due]").textContent = formatCents(totals.total);
      form.querySelector("[data-tendered]").textContent = formatCents(totals.tendered);
      form.querySelector("[data-change]").textContent = formatCents(change);
      var message = "";
      var state = "";
      if (rows.length && totals.tendered < totals.total) {
        message = "Short by " + formatCents(totals.total - totals.tendered) + ": tenders are less than the total.";
        state = "is-short";
      } else if (change > totals.cash) {
        message = SERVICE_CHANGE_MESSAGE;
        state = "is-error";
      }
      warning.textContent = message;
      warning.classList.toggle("is-short", state === "is-short");
      warning.classList.toggle("is-error", state === "is-error");
    }

    // -- posting -----------------------------------------------------------------

    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-submitting") === "true") { event.preventDefault(); return; }
      form.setAttribute("data-submitting", "true");
      postButton.disabled = true;
      postButton.textContent = "Posting…";
    });

    // Coming back with the browser's Back button shows the page as it was left.
    window.addEventListener("pageshow", function () {
      form.removeAttribute("data-submitting");
      postButton.disabled = false;
      postButton.textContent = "Post payment";
    });

    // F2 (or / outside a field) returns to the search box.
    document.addEventListener("keydown", function (event) {
      var typing = event.target.matches && event.target.matches("input, select, textarea");
      if (event.key === "F2" || (event.key === "/" && !typing)) {
        event.preventDefault();
        focusAndSelect(search);
      }
    });

    tenderRows().forEach(showFieldsFor);
    recompute();
    // A refused post comes back with the problem marked: start there.
    var invalid = form.querySelector("[aria-invalid='true']");
    if (invalid) { focusAndSelect(invalid); }
    else if (lineRows().length) { focusAndSelect(firstTenderAmount()); }
  }

  // --------------------------------------------------------------------- print page

  function initPrintPage() {
    var focus = document.querySelector("[data-focus-on-load]");
    if (focus) { focus.focus(); }
    document.addEventListener("keydown", function (event) {
      if ((event.key === "p" || event.key === "P") && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        window.print();
      }
    });
  }

  // Opening a drawer: the supervisor's approval appears once the date is before today.
  function initEarlierDate(input) {
    var approval = document.querySelector("[data-earlier-date-approval]");
    if (!approval) { return; }
    var today = input.getAttribute("max");
    function update() {
      var earlier = Boolean(input.value) && input.value < today;
      approval.hidden = !earlier;
      approval.querySelectorAll("input").forEach(function (field) { field.disabled = !earlier; });
    }
    input.addEventListener("change", update);
    input.addEventListener("input", update);
    update();
  }

  function init() {
    document.querySelectorAll("[data-denomination-form]").forEach(initCount);
    var businessDate = document.querySelector("[data-business-date]");
    if (businessDate) { initEarlierDate(businessDate); }
    var receipt = document.querySelector("[data-receipt-form]");
    if (receipt) { initReceipt(receipt); }
    if (document.querySelector("[data-print-page]")) { initPrintPage(); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
