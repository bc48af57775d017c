// DealWatch: the little JavaScript there is. Type-ahead for entities; everything else is plain HTML.
(function () {
  "use strict";
  var input = document.querySelector("input[data-typeahead]");
  if (!input) return;
  var list = document.getElementById("typeahead-results");
  var timer = null, last = "";
  function show(entities) {
    list.textContent = "";
    entities.forEach(function (e) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      if (input.dataset.typeaheadMode === "filter") {
        // add the entity to the current search's filters (all state lives in the URL)
        var params = new URLSearchParams(window.location.search);
        params.append("entity", e.id);
        params.delete("page");
        a.href = "/?" + params.toString();
      } else {
        a.href = "/entities/" + encodeURIComponent(e.id);
      }
      a.textContent = e.name + " (" + e.articles + ")";   // textContent: names are never parsed as HTML
      li.appendChild(a);
      list.appendChild(li);
    });
  }
  function lookup() {
    var prefix = input.value.trim();
    if (prefix === last) return;
    last = prefix;
    if (!prefix) { show([]); return; }
    fetch(input.dataset.typeahead + "?limit=10&prefix=" + encodeURIComponent(prefix), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {entities: []}; })
      .then(function (body) { if (input.value.trim() === prefix) show(body.entities || []); })
      .catch(function () { show([]); });
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(lookup, 120); });
})();

// "/" focuses the search box (as on most search sites), unless one is typing somewhere already.
(function () {
  "use strict";
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var box = document.getElementById("q");
    if (!box) { window.location.assign("/"); return; }   // other pages: to the search page
    ev.preventDefault();
    box.focus();
    box.select();
  });
})();

// The export's column picker: the ticked columns, in the list's order; "up" moves a column earlier.
(function () {
  "use strict";
  var list = document.getElementById("column-list");
  if (!list) return;
  Array.prototype.forEach.call(list.children, function (li) {
    var name = li.querySelector("input").value;
    var up = document.createElement("button");
    up.type = "button";
    up.textContent = "↑";
    up.className = "move-up";
    up.setAttribute("aria-label", "Move " + name + " one place earlier");
    up.addEventListener("click", function () {
      if (li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
      up.focus();
    });
    li.appendChild(up);
  });
})();
