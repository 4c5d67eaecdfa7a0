// xorsweep serve: fills the page from its inline JSON, then polls the JSON endpoints and
// updates the page in place.  Figures are PNGs drawn by the server; a figure's image is
// fetched again only when the run's version (the set of its finished chunks) changes.
(function () {
  "use strict";
  var POLL_MS = 1000;      // while a sweep runs
  var IDLE_POLL_MS = 3000; // otherwise

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function initial() {
    var s = $("initial");
    return s ? JSON.parse(s.textContent) : null;
  }

  function getJSON(url) {
    return fetch(url, {cache: "no-store"}).then(function (r) {
      return r.json().then(function (d) {
        if (!r.ok) { throw new Error(d.error || r.statusText); }
        return d;
      });
    });
  }

  // numbers as the command line prints them
  function count(n) { return n === null || n === undefined ? "-" : n.toLocaleString("en-US"); }
  function pct(x) { return x === null || x === undefined ? "-" : (100 * x).toFixed(1) + "%"; }
  function size(b) {
    var units = [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
    for (var i = 0; i < units.length; i++) {
      if (b >= units[i][1]) { return (b / units[i][1]).toPrecision(3) + " " + units[i][0]; }
    }
    return b + " B";
  }
  function duration(s) {
    if (s === null || s === undefined) { return "-"; }
    if (s < 10) { return s.toFixed(1) + " s"; }
    if (s < 60) { return Math.round(s) + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s"; }
    var m = Math.round(s / 60);
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }
  function when(t) {
    if (t === null || t === undefined) { return "-"; }
    var d = new Date(t * 1000);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes());
  }
  function speed(r) {
    return r ? (r / 1e6).toPrecision(3) + " M network-epochs/s" : "-";
  }

  function bar(fraction, text, small) {
    var fill = el("span");
    fill.style.width = (100 * Math.max(0, Math.min(1, fraction || 0))).toFixed(2) + "%";
    return el("div", {"class": small ? "bar small" : "bar", role: "progressbar",
                      "aria-valuemin": "0", "aria-valuemax": "100",
                      "aria-valuenow": (100 * (fraction || 0)).toFixed(1)},
              small ? [fill] : [fill, el("em", {text: text})]);
  }

  // a table of [text, value] cells that sorts on a click (or Enter) on a header: numbers
  // by value, text otherwise, blanks last; a second click reverses.  `sorted` keeps the
  // order across refreshes.
  function table(container, t, sorted) {
    var head = el("tr", {}, t.columns.map(function (c, i) {
      var th = el("th", {"class": t.numeric[i] ? "" : "t", tabindex: "0",
                         title: "sort by this column", "aria-sort": "none"},
                  [c.replace(/_/g, "_\u200b")]);
      function go() {
        sorted.up = sorted.col === i ? !sorted.up : true;
        sorted.col = i;
        draw();
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
      return th;
    }));
    var tbody = el("tbody");
    var tableEl = el("table", {"class": "sortable"}, [el("thead", {}, [head]), tbody]);
    function key(cell) {  // JSON has no infinity: the server sends "inf" ("never")
      var v = cell[1];
      return v === "inf" ? Infinity : v === "-inf" ? -Infinity : v === null ? cell[0] : v;
    }
    function draw() {
      var rows = t.rows.map(function (r, i) { return {r: r, i: i}; });
      if (sorted.col !== null && sorted.col < t.columns.length) {
        var c = sorted.col, sign = sorted.up ? 1 : -1;
        rows.sort(function (a, b) {
          var ka = key(a.r[c]), kb = key(b.r[c]);
          var blank = (ka === "") - (kb === "");
          if (blank) { return blank; }
          var d = typeof ka === "number" && typeof kb === "number" ? (ka < kb ? -1 : ka > kb)
            : String(ka).localeCompare(String(kb), undefined, {numeric: true});
          return sign * d || a.i - b.i;
        });
        Array.prototype.forEach.call(head.cells, function (th, i) {
          th.setAttribute("aria-sort", i === c ? (sorted.up ? "ascending" : "descending")
                          : "none");
        });
      }
      tbody.textContent = "";
      rows.forEach(function (x) {
        tbody.appendChild(el("tr", {}, x.r.map(function (cell, i) {
          return el("td", {"class": t.numeric[i] ? "" : "t"}, [cell[0]]);
        })));
      });
    }
    draw();
    container.textContent = "";
    container.appendChild(tableEl);
  }

  // figures: one <figure> per name, its image swapped only once the new one has loaded;
  // returns a promise of the new images (loaded or failed)
  function figures(container, list, wideNames) {
    var keep = {}, loading = [];
    list.forEach(function (f) {
      keep[f.name] = true;
      var fig = $("fig-" + f.name);
      if (!fig) {
        fig = el("figure", {id: "fig-" + f.name,
                            "class": wideNames.indexOf(f.name) >= 0 ? "full" : ""},
                 [el("img", {alt: f.name.replace(/_/g, " ")}),
                  el("figcaption", {text: f.caption || ""})]);
        container.appendChild(fig);
      }
      var img = fig.querySelector("img");
      if (img.getAttribute("data-url") !== f.url) {
        img.setAttribute("data-url", f.url);
        loading.push(new Promise(function (resolve) {
          var next = new Image();
          next.onload = function () {
            if (img.getAttribute("data-url") === f.url) { img.src = f.url; }
            resolve();
          };
          next.onerror = resolve;
          next.src = f.url;
        }));
      }
      if (f.caption !== undefined) { fig.querySelector("figcaption").textContent = f.caption; }
    });
    Array.prototype.slice.call(container.children).forEach(function (fig) {
      if (!keep[fig.id.slice(4)]) { container.removeChild(fig); }
    });
    list.forEach(function (f) {  // in the list's order: a figure added later goes in its place
      container.appendChild($("fig-" + f.name));
    });
    return Promise.all(loading);
  }

  function showError(message) {
    var e = $("error");
    if (!e) { return; }
    e.hidden = !message;
    e.textContent = message || "";
  }

  function poll(fn, delay) {
    function again(ms) { window.setTimeout(tick, ms); }
    function tick() {
      if (document.hidden) { again(delay()); return; }
      fn().then(function () { again(delay()); }, function (err) {
        showError(err.message);
        again(IDLE_POLL_MS);
      });
    }
    again(delay());
  }

  // --- the list of runs --------------------------------------------------------------
  function listPage(runs) {
    function render(list) {
      var box = $("runs");
      if (!list.length) {
        box.textContent = "No runs here yet: start one with xorsweep run SPEC --out " +
          "this directory; it appears here when it starts.";
        return;
      }
      var head = ["name", "state", "progress", "networks", "epochs", "created", "size"];
      var rows = list.map(function (r) {
        var state = el("td", {"class": "t"}, [r.state]);
        if (r.running) { state.appendChild(el("span", {"class": "badge", text: "running"})); }
        if (r.state === "damaged") {
          state.appendChild(el("span", {"class": "badge bad", text: "xorsweep status"}));
        }
        return el("tr", {"data-name": r.name}, [
          el("td", {"class": "t"}, [el("a", {href: r.url, text: r.name})]), state,
          el("td", {"class": "t"}, [r.progress === null ? "-" : bar(r.progress, "", true)]),
          el("td", {text: r.networks === null ? "-" :
                    count(r.networks_done) + " of " + count(r.networks)}),
          el("td", {text: count(r.epochs)}), el("td", {text: when(r.created)}),
          el("td", {text: size(r.size)})]);
      });
      box.textContent = "";
      box.appendChild(el("table", {}, [
        el("thead", {}, [el("tr", {}, head.map(function (h, i) {
          return el("th", {"class": i < 3 ? "t" : "", text: h});
        }))]), el("tbody", {}, rows)]));
      var running = list.filter(function (r) { return r.running; }).length;
      $("status").textContent = list.length + " run" + (list.length > 1 ? "s" : "") +
        (running ? ", " + running + " running" : "") + "; refreshed " + when(Date.now() / 1000);
    }
    var last = runs;
    render(runs);
    poll(function () {
      return getJSON("/api/runs").then(function (d) { last = d; showError(""); render(d); });
    }, function () {
      return last.some(function (r) { return r.running; }) ? POLL_MS : IDLE_POLL_MS;
    });
  }

  // --- a run -------------------------------------------------------------------------
  // a run's page: the progress and cards follow every poll; the figures and the table,
  // which the server recomputes over every network when chunks land, follow at most
  // every 2 s, or 4 times as long as they last took, while a sweep runs, and at once
  // when it stops
  function runPage(first) {
    var name = document.body.getAttribute("data-name");
    var sorted = {col: null, up: true}, last = first;
    var heavy = {version: null, at: 0, cost: 0, busy: false};

    function refresh(d) {
      var t0 = Date.now();
      heavy.busy = true;
      heavy.version = d.version;
      var axes = d.axes.x === null ? "" : "Axes x = " + d.axes.x +
        (d.axes.y === null ? "" : ", y = " + d.axes.y) + "; ";
      $("figures-note").textContent = d.figures.length ? axes + "redrawn as chunks land." :
        "No finished chunk yet: the figures appear when the first chunk lands.";
      var images = figures($("figures"), d.figures,
                           ["heatmap", "heatmap_expected_epochs", "rate", "refined"]);
      var rows = getJSON(d.table).then(function (t) {
        $("table-note").textContent = (t.total_rows ? count(t.total_rows) +
                                       (t.total_rows === 1 ? " row; " : " rows; ") : "") +
          (t.pooled.length ? "pooled: " + t.pooled.join(", ") + ". " : "") + t.note +
          " Click a column's header to sort by it.";
        table($("table"), t, sorted);
      });
      function done() {
        heavy.busy = false;
        heavy.at = Date.now();
        heavy.cost = heavy.at - t0;
      }
      Promise.all([images, rows]).then(done, function (err) {
        done();
        showError(err.message);
      });
    }

    function render(d) {
      var p = d.progress, s = d.summary;
      $("description").textContent = d.description;
      var status = p.complete ? "complete" : p.running ? "running" :
        p.running === false ? "stopped at " + pct(p.fraction) + " (resume it with " +
        (p.resume || p.finish) + ")" : d.state;
      var box = $("progress");
      box.textContent = "";
      var undecided = p.levels && p.levels[0] < p.levels[1];  // a refined run's levels to come
      box.appendChild(bar(p.fraction, count(p.networks_done) + " of " + count(p.networks) +
                          " networks (" + pct(p.fraction) + "), " + p.chunks_done + " of " +
                          p.chunks + " chunks" + (p.levels_text ? ", " + p.levels_text : "") +
                          ": " + status));
      var cards = [
        ["state", p.complete ? "complete" : p.running ? "running" : d.state],
        ["networks", count(p.networks_done), "of " + count(p.networks)],
        ["chunks", p.chunks_done + " of " + p.chunks],
        [s.level0 ? "converged, every level" : "converged", pct(s.rate), s.rate === null ? "" :
          "95% interval " + pct(s.rate_low) + " - " + pct(s.rate_high)],
        ["training", duration(p.elapsed_s), speed(p.rate)],
        ["time left", p.eta_s === null ? "-" : duration(p.eta_s),
          p.eta_s === null ? (p.complete ? "done" : "when running") :
          undecided ? "for the levels decided so far" : "at this rate"],
        ["last chunk", duration(Math.max(0, Date.now() / 1000 - p.updated)) + " ago",
          when(p.updated)]];
      if (s.level0) {  // a refined run: its levels crowd the boundary; the grid does not
        cards.splice(4, 0, ["converged, level 0 grid", pct(s.level0.rate), "95% interval " +
          pct(s.level0.rate_low) + " - " + pct(s.level0.rate_high)]);
      }
      var cbox = $("cards");
      cbox.textContent = "";
      cards.forEach(function (c) {
        cbox.appendChild(el("div", {"class": "card", "data-card": c[0]},
                            [c[0], el("b", {text: c[1]}), el("small", {text: c[2] || ""})]));
      });
      var settled = p.complete || !p.running;
      if (d.version !== heavy.version && !heavy.busy && (heavy.version === null || settled ||
          Date.now() - heavy.at >= Math.max(2000, 4 * heavy.cost))) {
        refresh(d);
      }
    }
    render(first);
    poll(function () {
      return getJSON("/api/runs/" + encodeURIComponent(name)).then(function (d) {
        last = d;
        showError("");
        render(d);
      });
    }, function () { return last.progress.running ? POLL_MS : IDLE_POLL_MS; });
  }

  // --- two runs compared -------------------------------------------------------------
  function comparePage(first) {
    var names = first.runs, c = first.comparison;
    var params = new URLSearchParams(window.location.search);
    ["a", "b"].forEach(function (side, k) {
      var select = $("pick-" + side);
      names.forEach(function (n) { select.appendChild(el("option", {value: n, text: n})); });
      var chosen = params.get(side) || names[Math.min(k, names.length - 1)];
      if (chosen) { select.value = chosen; }
    });
    if (!c) {
      showError(first.error);
      $("method").textContent = first.error ? "" : names.length < 2 ?
        "Two runs are needed to compare." : "Choose two runs.";
      var heading = $("table").previousElementSibling;  // "By cell": nothing to show
      if (heading) { heading.hidden = true; }
      return;
    }
    var version = null, sorted = {col: null, up: true};
    function render(d) {
      var sides = $("sides");
      sides.textContent = "";
      [["A", d.a], ["B", d.b]].forEach(function (x) {
        var r = x[1];
        sides.appendChild(el("div", {"class": "side"}, [
          el("h3", {}, [x[0] + ": ", el("a", {href: r.url, text: r.name})]),
          el("div", {text: count(r.networks) + " of " + count(r.networks_total) +
                     " networks, " + count(r.epochs) + " epochs; " + pct(r.rate) +
                     " converged" + (r.complete ? "" : " (incomplete)")})]));
      });
      $("method").textContent = count(d.cells) + " cells of " + d.by.join(" x ") +
        " in both runs; difference: rate of B - rate of A, " + d.method + ", with its 95% " +
        "interval and p value" + (d.pooled.length ? "; pooled: " + d.pooled.join(", ") : "") +
        ".";
      figures($("figures"), d.figures.map(function (f) {
        return {name: f.name, url: f.url, caption: f.name === "rates" ?
          "convergence rate of A (left) and B (right), on one colour scale." :
          "rate of B - rate of A per cell (blue: B converges more often; bold: the 95% " +
          "interval excludes 0)."};
      }), ["rates", "difference"]);
      if (d.version !== version) {
        version = d.version;
        table($("table"), d.table, sorted);
      }
    }
    render(c);
    var url = "/api/compare?" + params.toString();
    poll(function () {
      return getJSON(url).then(function (d) { showError(""); render(d); });
    }, function () { return IDLE_POLL_MS; });
  }

  var data = initial();
  var page = document.body.getAttribute("data-page");
  if (page === "list") { listPage(data); }
  if (page === "run") { runPage(data); }
  if (page === "compare") { comparePage(data); }
})();
