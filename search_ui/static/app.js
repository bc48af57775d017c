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
