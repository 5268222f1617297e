// The workspace's live updates and shortcuts. No framework: the server renders every page and
// every fragment (escaped there); this file only fetches and inserts them.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main) return;
  var after = Number(main.dataset.after || 0);
  var source = new EventSource("/app/events?after=" + after);
  if (main.dataset.live === "inbox") {
    source.addEventListener("changed", function () { location.reload(); });
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
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html) return;
        var box = document.createElement("div");
        box.innerHTML = html; // server-rendered, every value escaped
        Array.prototype.forEach.call(box.querySelectorAll("article[data-id]"), function (a) {
          last = Math.max(last, Number(a.dataset.id));
          list.appendChild(a);
        });
        list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "end" });
      })
      .finally(function () { busy = false; });
  }
  source.addEventListener("changed", pull);
  // r: write a reply; Ctrl/Cmd+Enter: send it.
  var text = document.querySelector("form.reply textarea");
  document.addEventListener("keydown", function (e) {
    if (e.key === "r" && document.activeElement === document.body && text) {
      e.preventDefault();
      text.focus();
    }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && document.activeElement === text) {
      text.form.submit();
    }
  });
})();
