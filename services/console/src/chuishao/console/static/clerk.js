// The clerk's pages: live countdowns to each deadline, and (on the queue) new dispatches
// arriving over server-sent events without a reload. Our own few lines; no library.
(function () {
  "use strict";

  function span(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    if (minutes < 1) { return "不到1分钟"; }
    if (minutes < 60) { return minutes + "分钟"; }
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours < 48) { return hours + "小时" + (minutes ? minutes + "分钟" : ""); }
    return Math.floor(hours / 24) + "天" + (hours % 24 ? (hours % 24) + "小时" : "");
  }

  // Within a day the seconds count down visibly (a report-in deadline is hours away).
  function left(seconds) {
    if (seconds < 0) { return "已超时" + span(seconds); }
    if (seconds < 86400) {
      var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
      var s = Math.floor(seconds % 60);
      return "剩" + (h ? h + "小时" : "") + m + "分" + (s < 10 ? "0" : "") + s + "秒";
    }
    return "剩" + span(seconds);
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var seconds = (Date.parse(el.getAttribute("data-deadline")) - now) / 1000;
      el.textContent = left(seconds);
      el.classList.toggle("late", seconds < 0);
    });
  }
  tick();
  setInterval(tick, 1000);

  var queue = document.getElementById("queue");
  if (!queue || !window.EventSource) { return; }
  var live = document.getElementById("live");
  var news = document.getElementById("news");

  function state(name, text) {
    live.setAttribute("data-state", name);
    live.textContent = text;
  }

  function refresh(fresh) {
    var tab = queue.getAttribute("data-tab") || "report";
    fetch("/clerk/part?tab=" + encodeURIComponent(tab), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        queue.innerHTML = html;
        fresh.forEach(function (id) {
          var row = queue.querySelector('tr[data-ticket="' + id + '"]');
          if (row) { row.classList.add("fresh"); }
        });
        tick();
      })
      .catch(function () { state("error", "刷新失败，请手动刷新"); });
  }

  var source = new EventSource("/events/clerk?known=" + encodeURIComponent(queue.getAttribute("data-known") || ""));
  source.addEventListener("open", function () { state("live", "实时"); });
  source.addEventListener("error", function () { state("connecting", "重新连接中…"); });
  source.addEventListener("logout", function () { source.close(); window.location.reload(); });
  source.addEventListener("queue", function (message) {
    var data = JSON.parse(message.data);
    var fresh = data["new"] || [];
    if (fresh.length) {
      news.textContent = "新派单：" + fresh.join("、") + "，请尽快签收";
      news.hidden = false;
    }
    refresh(fresh);
  });
})();
