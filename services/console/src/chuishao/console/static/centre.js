// The command centre's live hotspot warnings (SSE): each new warning is added on top,
// with no reload; the badge says whether the page is connected.
(function () {
  "use strict";
  var list = document.getElementById("hotspot-list");
  var none = document.getElementById("no-hotspots");
  var count = document.getElementById("hotspot-count");
  var live = document.getElementById("live");
  if (!list || !window.EventSource) { return; }
  function state(name, text) { live.dataset.state = name; live.textContent = text; }
  var source = new EventSource("/centre/hotspots/stream");
  source.addEventListener("live", function () { state("live", "实时"); });
  source.addEventListener("hotspot", function (event) {
    var holder = document.createElement("ul");
    holder.innerHTML = event.data;
    var item = holder.firstElementChild;
    if (!item) { return; }
    if (item.dataset.event && list.querySelector('[data-event="' + item.dataset.event + '"]')) { return; }
    item.classList.add("fresh");
    list.insertBefore(item, list.firstChild);
    if (none) { none.hidden = true; }
    count.textContent = String(list.children.length);
    count.classList.add("warn");
  });
  source.onerror = function () { state("lost", "连接中断，正在重连…"); };
})();
