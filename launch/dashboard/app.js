/* fedrl live dashboard: polls /api/state every second and draws with uPlot (served from node_modules). */
(function () {
  "use strict";
  var POLL_MS = 1000, KEEP = 1800;
  var PALETTE = ["#2f6fde", "#e0762b", "#1a9c5b", "#a04fd1", "#d0363b", "#17a2b8", "#8c6d1f", "#e05fa8", "#4b5563", "#7cb518"];
  var history = [], lastT = 0, state = null, charts = {}, failures = 0;
  var api = (window.fedrlDashboard = { charts: charts, polls: 0, history: history });

  function $(id) { return document.getElementById(id); }
  function fmt(x, d) { return x === null || x === undefined || !isFinite(x) ? "–" : Number(x).toFixed(d === undefined ? 1 : d); }
  function k(x) { return x === null || x === undefined ? "–" : x >= 1e6 ? (x / 1e6).toFixed(2) + "M" : x >= 1e3 ? (x / 1e3).toFixed(1) + "k" : String(x); }
  function color(i) { return PALETTE[i % PALETTE.length]; }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }

  /** Creates or updates a chart; re-creates it when its series change. */
  function draw(id, names, data, opts) {
    var box = $(id);
    var key = names.join("\u0000");
    var c = charts[id];
    var width = Math.max(240, box.clientWidth || 400);
    if (c && c.key === key) {
      if (Math.abs(c.plot.width - width) > 4) c.plot.setSize({ width: width, height: 200 });
      c.plot.setData(data);
      return;
    }
    if (c) c.plot.destroy();
    box.textContent = "";
    var series = [{ label: "s" }].concat(names.map(function (n, i) {
      return { label: n, stroke: (opts.colors && opts.colors[i]) || color(i), width: opts.widths ? opts.widths[i] : 1.5, spanGaps: true, points: { show: false }, value: function (u, v) { return fmt(v, opts.digits); } };
    }));
    var plot = new uPlot({
      width: width, height: 200, series: series, legend: { live: true },
      scales: { x: { time: false } },
      axes: [{ label: "seconds", size: 36 }, { label: opts.y, size: 54 }],
      cursor: { drag: { x: true, y: false } },
    }, data, box);
    charts[id] = { key: key, plot: plot };
  }

  function hideEmpty(id, empty) {
    var box = $(id);
    box.hidden = empty;
    var p = box.parentElement.querySelector(".empty");
    if (p) p.hidden = !empty;
  }

  function render() {
    if (!state) return;
    $("run").textContent = state.run + " · " + state.mode + " · " + state.env + " · " + state.role;
    var H = history, t = H.map(function (h) { return h.t; });
    var actors = state.trust.map(function (r) { return r.actor; }).filter(function (a) { return H.some(function (h) { return h.actors[a]; }); });
    // Learning curves: per actor and the mean over actors.
    var curves = actors.map(function (a) { return H.map(function (h) { var x = h.actors[a]; return x ? x.mean100 : null; }); });
    var mean = H.map(function (h) {
      var v = Object.keys(h.actors).map(function (a) { return h.actors[a].mean100; }).filter(function (x) { return x !== null; });
      return v.length ? v.reduce(function (s, x) { return s + x; }, 0) / v.length : null;
    });
    draw("curves", actors.concat(["mean of actors"]), [t].concat(curves, [mean]), { y: "return", colors: actors.map(function (_, i) { return color(i); }).concat(["#111"]), widths: actors.map(function () { return 1.5; }).concat([3]) });
    // Learner rates.
    var L = H.map(function (h) { return h.learner; });
    var hasLearner = state.server && state.server.hasLearner;
    hideEmpty("rates", !hasLearner);
    hideEmpty("filter", !hasLearner);
    if (hasLearner) {
      var rate = function (f) {
        return H.map(function (h, i) {
          if (i === 0 || !h.learner || !H[i - 1].learner) return null;
          var dt = h.t - H[i - 1].t;
          return dt > 0 ? Math.max(0, (f(h.learner) - f(H[i - 1].learner)) / dt) : null;
        });
      };
      draw("rates", ["received", "accepted", "updates"], [t, rate(function (l) { return l.received; }), rate(function (l) { return l.accepted; }), rate(function (l) { return l.updates; })], { y: "per second", digits: 0 });
      draw("filter", ["filter accept %", "replay fill %"], [t, L.map(function (l) { return l && l.acceptRate !== null ? 100 * l.acceptRate : null; }), L.map(function (l) { return l && l.replayFill !== null ? 100 * l.replayFill : null; })], { y: "%", digits: 1 });
    }
    // Rejections by reason (cumulative).
    hideEmpty("rejections", !state.server);
    if (state.server) {
      var reasons = {};
      L.forEach(function (l) { if (l) Object.keys(l.rejected).forEach(function (r) { reasons[r] = true; }); });
      var names = Object.keys(reasons).sort();
      if (names.length === 0) names = ["none"];
      draw("rejections", names, [t].concat(names.map(function (r) { return L.map(function (l) { return l ? l.rejected[r] || 0 : null; }); })), { y: "count", digits: 0 });
    }
    // Held-out detection of the global model (IoT runs): one point per probed aggregation round.
    var D = state.detection || [];
    hideEmpty("detection", D.length === 0);
    if (D.length) {
      var col = function (f) { return D.map(f); };
      draw("detection", ["F1", "ROC-AUC", "FPR", "worst-site F1"], [col(function (d) { return d.t; }), col(function (d) { return d.f1; }), col(function (d) { return d.rocAuc; }), col(function (d) { return d.fpr; }), col(function (d) { return d.worstSiteF1; })], { y: "value", digits: 3 });
    }
    // Delivery.
    var sum = function (f) { return H.map(function (h) { return Object.keys(h.actors).reduce(function (s, a) { return s + f(h.actors[a]); }, 0); }); };
    draw("delivery", ["transitions lost", "batches retried"], [t, sum(function (a) { return a.lost; }), sum(function (a) { return a.retries; })], { y: "count", digits: 0, colors: ["#d0363b", "#e0a02b"] });
    renderTrust();
    renderHeatmap();
    var last = H[H.length - 1];
    var s = state.server;
    var steps = last ? Object.keys(last.actors).reduce(function (x, a) { return x + last.actors[a].steps; }, 0) : 0;
    $("summary").textContent = fmt((state.now - state.started) / 1000, 0) + " s · " + k(steps) + " env steps · " + state.trust.length + " actors" +
      (s ? " · global v" + s.version + " · round " + s.round + (s.rule ? " (" + s.rule + ")" : "") : "") +
      (last && last.learner && hasLearner ? " · replay " + fmt(100 * (last.learner.replayFill || 0), 0) + "% · loss " + fmt(last.learner.loss, 3) : "");
  }

  function renderTrust() {
    var body = $("trust").tBodies[0];
    body.textContent = "";
    state.trust.forEach(function (r) {
      var tr = el("tr");
      tr.dataset.actor = r.actor;
      [r.actor, k(r.steps), k(r.episodes), fmt(r.mean100), fmt(r.epsilon, 2), r.globalVersion === null ? "–" : r.globalVersion, fmt(r.weight, 3), fmt(r.score, 3), r.staleness === null ? "–" : k(r.staleness), r.reason || "", fmt(r.gateTrust, 2), k(r.rowsAccepted), k(r.rowsGated), k(r.lost), k(r.retries)].forEach(function (v, i) {
        tr.appendChild(el("td", String(v), (i === 9 && r.reason) || (i === 10 && r.gateTrust !== null && r.gateTrust < 0.5) ? "bad" : undefined));
      });
      body.appendChild(tr);
    });
  }

  function renderHeatmap() {
    var rounds = state.rounds.slice(-40);
    var box = $("heatmap");
    if (rounds.length === 0) return;
    var actors = state.trust.map(function (r) { return r.actor; });
    var table = el("table");
    var head = el("tr");
    head.appendChild(el("th", "actor \\ round"));
    rounds.forEach(function (r) { head.appendChild(el("th", String(r.round))); });
    table.appendChild(head);
    actors.forEach(function (a) {
      var tr = el("tr");
      tr.appendChild(el("th", a));
      rounds.forEach(function (r) {
        var c = r.clients.filter(function (x) { return x.actor === a; })[0];
        var td = el("td");
        if (c) {
          var w = Math.max(0, Math.min(1, c.weight * Math.max(1, r.clients.length) / 2));
          td.style.background = "rgba(47, 111, 222, " + (0.08 + 0.92 * w).toFixed(3) + ")";
          td.title = a + " round " + r.round + ": weight " + fmt(c.weight, 3) + (c.score !== null ? ", score " + fmt(c.score, 3) : "") + (c.reason ? ", left out: " + c.reason : "");
          if (c.reason) td.textContent = "✕";
        } else td.style.background = "#f0f1f3";
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    box.textContent = "";
    box.appendChild(table);
  }

  function poll() {
    fetch("/api/state?since=" + lastT, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (s) {
      state = s;
      s.history.forEach(function (h) { if (h.t > lastT) { history.push(h); lastT = h.t; } });
      while (history.length > KEEP) history.shift();
      failures = 0;
      api.polls++;
      $("status").textContent = "● live";
      $("status").className = "status ok";
      render();
    }).catch(function (e) {
      failures++;
      $("status").textContent = "● " + (failures > 2 ? "run not reachable (stopped?)" : "retrying");
      $("status").className = "status bad";
    }).then(function () { setTimeout(poll, POLL_MS); });
  }

  window.addEventListener("resize", function () { render(); });
  poll();
})();
