// The report form without a library: a tap on the map sets the pin (the SVG carries its
// projection), the category list filters as one types, photos are counted, and the
// submit button stays down once pressed (the Idempotency-Key covers a second tap).
(function () {
  "use strict";
  var map = document.querySelector("svg.map.picker");
  var lat = document.getElementById("lat");
  var long = document.getElementById("long");
  if (map && lat && long) {
    var d = map.dataset;
    var west = +d.west, north = +d.north, kx = +d.kx, scale = +d.scale, pad = +d.pad;
    var ns = "http://www.w3.org/2000/svg";
    var pin = null;
    var place = function (x, y) {
      if (!pin) {
        pin = document.createElementNS(ns, "g");
        pin.setAttribute("class", "pin");
        var path = document.createElementNS(ns, "path");
        path.setAttribute("d", "M0,0 C-3,-8 -9,-11 -9,-17 A9,9 0 1 1 9,-17 C9,-11 3,-8 0,0 Z");
        pin.appendChild(path);
        map.appendChild(pin);
      }
      pin.setAttribute("transform", "translate(" + x + "," + y + ") scale(2)");
    };
    map.addEventListener("click", function (event) {
      var point = map.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      var at = point.matrixTransform(map.getScreenCTM().inverse());
      long.value = (west + (at.x - pad) / (kx * scale)).toFixed(6);
      lat.value = (north - (at.y - pad) / scale).toFixed(6);
      var old = map.querySelector("g.pin:not([data-live])");
      if (old && old !== pin) { old.remove(); }
      place(at.x, at.y);
      pin.setAttribute("data-live", "1");
      var hint = document.getElementById("pin-hint");
      if (hint) { hint.textContent = "已选位置，可再次点击地图修改"; }
    });
  }

  // "已有人反映": once a category and a point are chosen, ask whether the report would
  // join an open one nearby (it would be linked to it on filing, and follow its progress).
  var duplicate = document.getElementById("duplicate");
  var checkDuplicate = function () {
    var category = document.getElementById("category");
    if (!duplicate || !category || !category.value || !lat || !lat.value) { return; }
    var query = "category=" + encodeURIComponent(category.value) +
      "&lat=" + encodeURIComponent(lat.value) + "&long=" + encodeURIComponent(long.value);
    fetch("/r/duplicate-check?" + query, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (found) {
        if (!found || !found.joins) { duplicate.hidden = true; return; }
        duplicate.textContent = "已有人反映：附近 " + found.distance_m + " 米处的同类问题已有 " +
          found.reported_by + " 人反映（工单 " + found.ticket_id + "）。提交后您的反映会合并到该工单，一起办理，进度同样短信通知您。";
        duplicate.hidden = false;
      })
      .catch(function () { duplicate.hidden = true; });
  };
  if (map) { map.addEventListener("click", checkDuplicate); }
  var categorySelect = document.getElementById("category");
  if (categorySelect) { categorySelect.addEventListener("change", checkDuplicate); }

  var filter = document.getElementById("category-filter");
  var select = document.getElementById("category");
  if (filter && select) {
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var words = filter.value.trim();
      var first = null;
      Array.prototype.forEach.call(select.querySelectorAll("option[data-words]"), function (option) {
        var hit = !words || option.dataset.words.indexOf(words) >= 0;
        option.hidden = !hit;
        if (hit && !first) { first = option; }
      });
      if (words && first) { select.value = first.value; checkDuplicate(); }
    });
  }

  // Both filing forms ask the console about a field as it is typed: once typing pauses
  // (400 ms), POST `url` with the page's CSRF token and the body `bodyOf(text)` makes; only
  // the answer to the latest words is shown (`show`), an emptied field is `cleared` (when
  // given; else asked about too), and a failed ask shows nothing: the form works without.
  var askWhileTyping = function (field, url, csrf, bodyOf, show, cleared) {
    var timer = null;
    var asked = "";
    var latest = 0;
    var ask = function () {
      var text = field.value.trim();
      if (text === asked) { return; }
      asked = text;
      var mine = ++latest;
      if (!text && cleared) { cleared(); return; }
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf.value },
        body: JSON.stringify(bodyOf(text))
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) { if (answer && mine === latest) { show(answer); } })
        .catch(function () { /* nothing shown: the form works without it */ });
    };
    field.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 400);
    });
    if (field.value.trim()) { ask(); }  // a form drawn again with its words
  };

  // The suggestion while the description is typed (both filing forms): after a pause,
  // POST /r/triage; the likely categories come back as buttons (one tap sets the list
  // above), and the emergency line when the words tell of a life at risk.
  var description = document.querySelector("textarea[name=description]");
  var triage = document.getElementById("triage");
  var choices = document.getElementById("triage-choices");
  var danger = document.getElementById("danger");
  var csrf = document.querySelector("input[name=csrf_token]");
  if (description && triage && choices && select && csrf) {
    var pick = function (code, button) {
      if (filter) { filter.value = ""; }
      Array.prototype.forEach.call(select.querySelectorAll("option"), function (o) { o.hidden = false; });
      select.value = code;
      Array.prototype.forEach.call(choices.querySelectorAll("button"), function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      checkDuplicate();
    };
    var show = function (answer) {
      choices.textContent = "";
      (answer.suggestions || []).forEach(function (s) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "suggestion";
        button.dataset.category = s.category;
        button.setAttribute("aria-pressed", select.value === s.category ? "true" : "false");
        button.textContent = s.name;
        var percent = document.createElement("span");
        percent.className = "percent";
        percent.textContent = s.percent + "%";
        button.appendChild(percent);
        button.addEventListener("click", function () { pick(s.category, button); });
        choices.appendChild(button);
      });
      triage.hidden = !choices.children.length;
      if (danger) {
        document.getElementById("danger-warning").textContent = answer.warning || "";
        document.getElementById("danger-advice").textContent = answer.advice || "";
        danger.hidden = !(answer.warning || answer.advice);
      }
    };
    askWhileTyping(description, "/r/triage", csrf, function (text) {
      return { text: text.slice(0, 4000) };
    }, show);
  }

  // Where the directory places the address as it is typed (both filing forms): after a
  // pause, POST /r/place; one line under the input, read out politely by screen readers.
  var address = document.querySelector("input[name=address]");
  var placeLine = document.getElementById("place-line");
  var token = document.querySelector("input[name=csrf_token]");
  if (address && placeLine && token) {
    askWhileTyping(address, "/r/place", token, function (text) {
      return { address: text.slice(0, 500) };
    }, function (found) {
      placeLine.textContent = found.found && found.label ? "定位：" + found.label
        : "未能按地址定位，提交后由系统或指挥中心判断";
      placeLine.hidden = false;
    }, function () { placeLine.textContent = ""; placeLine.hidden = true; });
  }

  var form = document.getElementById("report");
  if (form) {
    form.addEventListener("submit", function (event) {
      var files = form.querySelector("input[type=file]");
      if (files && files.files.length > +files.dataset.max) {
        event.preventDefault();
        alert("最多上传 " + files.dataset.max + " 张照片");
        return;
      }
      var button = document.getElementById("submit");
      if (button) { button.disabled = true; button.textContent = "正在提交…"; }
    });
  }
})();
