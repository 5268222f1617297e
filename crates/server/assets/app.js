// The workspace's live updates and shortcuts. No framework: the server renders every page and
// every fragment (escaped there); this file only fetches and inserts them.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  function typing() {
    var a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT" || a.isContentEditable);
  }
  function click(sel) {
    var b = document.querySelector(sel);
    if (b) b.click();
  }
  // Rows that open a conversation: j/k move, Enter or o opens.
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
  var at = -1;
  function select(i) {
    if (!rows.length) return;
    if (at >= 0) rows[at].classList.remove("selected");
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows[at].classList.add("selected");
    rows[at].scrollIntoView({ block: "nearest" });
  }
  // Times arrive in UTC; each person reads them in their own zone and language.
  function localTimes(root) {
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        el.textContent = d.toLocaleString(document.documentElement.lang || undefined,
          { dateStyle: "short", timeStyle: "short" });
      }
    });
  }
  localTimes(document);
  var text = document.querySelector("form.reply textarea");
  var pendingG = false;
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && text && document.activeElement === text) {
      e.preventDefault();
      text.form.requestSubmit ? text.form.requestSubmit() : text.form.submit();
      return;
    }
    if (e.key === "Escape" && typing()) { document.activeElement.blur(); return; }
    if (typing() || e.ctrlKey || e.metaKey || e.altKey) return;
    if (pendingG) {
      pendingG = false;
      if (e.key === "i") { location.href = "/app"; return; }
      if (e.key === "d") { location.href = "/app/dashboard"; return; }
    }
    switch (e.key) {
      case "g": pendingG = true; setTimeout(function () { pendingG = false; }, 1000); break;
      case "j": select(at + 1); break;
      case "k": select(at - 1); break;
      case "o":
      case "Enter": if (at >= 0) location.href = rows[at].dataset.href; break;
      case "r": if (text) { e.preventDefault(); text.focus(); } break;
      case "a": click("#assign-me"); break;
      case "e": click("#status-action"); break;
      case "/":
        var canned = document.getElementById("canned");
        if (canned) {
          e.preventDefault();
          canned.open = true;
          var first = canned.querySelector("button");
          if (first) first.focus();
        }
        break;
    }
  });
  // A canned response goes into the reply box where the cursor is.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest(".canned-item");
    if (!b || !text) return;
    var start = text.selectionStart || 0, end = text.selectionEnd || 0;
    text.value = text.value.slice(0, start) + b.dataset.text + text.value.slice(end);
    var caret = start + b.dataset.text.length;
    text.focus();
    text.setSelectionRange(caret, caret);
    document.getElementById("canned").open = false;
  });
  if (!main) return;
  var after = Number(main.dataset.after || 0);
  var changed = Number(main.dataset.changed || 0);
  if (main.dataset.live === "dashboard") return;
  var source = new EventSource("/app/events?after=" + after + "&changed=" + changed);
  if (main.dataset.live === "inbox") {
    // At most one reload every 3 s, and not while someone is choosing a filter.
    var due = null, lastReload = Date.now();
    var reload = function () {
      if (due) return;
      due = setTimeout(function tick() {
        if (typing()) { due = setTimeout(tick, 1000); return; }
        location.reload();
      }, Math.max(0, 3000 - (Date.now() - lastReload)));
    };
    source.addEventListener("message", reload);
    source.addEventListener("conversation", reload);
    return;
  }
  var id = main.dataset.id;
  var list = document.getElementById("messages");
  var last = after;
  var busy = false;
  function pull() {
    if (busy) return;
    busy = true;
    fetch("/app/c/" + id + "/messages?after=" + last, { credentials: "same-origin" })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : ""; })
      .then(function (html) {
        if (!html) return;
        var box = document.createElement("div");
        box.innerHTML = html; // server-rendered, every value escaped
        Array.prototype.forEach.call(box.querySelectorAll("article[data-id]"), function (a) {
          last = Math.max(last, Number(a.dataset.id));
          localTimes(a);
          list.appendChild(a);
        });
        list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "end" });
      })
      .finally(function () { busy = false; refreshHead(); });
  }
  // Owner, status and SLA change without a message (an assignment, a transfer, routing).
  function refreshHead() {
    fetch("/app/c/" + id + "/head", { credentials: "same-origin" })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : ""; })
      .then(function (html) {
        var head = document.getElementById("head");
        if (!html || !head) return;
        var box = document.createElement("div");
        box.innerHTML = html; // server-rendered, every value escaped
        if (box.firstElementChild) {
          localTimes(box.firstElementChild);
          head.replaceWith(box.firstElementChild);
        }
      });
  }
  source.addEventListener("message", pull);
  source.addEventListener("conversation", refreshHead);
})();
