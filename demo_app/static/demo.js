// Live feedback: ask the demo for new notifications every few seconds and show each as
// a toast. Gamify records awards and completed to-do lists as notifications whether
// events are processed inline or by workers, so polling works the same in both modes.
(function () {
  "use strict";

  var POLL_MS = 3000;
  var SHOW_MS = 10000;
  var box = document.getElementById("toasts");
  if (!box || !window.fetch) {
    return;
  }
  var counter = document.getElementById("unread-count");
  var after = 0; // the newest notification shown so far

  function show(note) {
    var toast = document.createElement("div");
    toast.className = "toast " + note.kind;
    toast.setAttribute("role", "status");
    var text = document.createElement("p");
    text.textContent = note.text;
    if (note.url) {
      // Where to go next: the page just unlocked, or the to-do lists.
      var link = document.createElement("a");
      link.href = note.url;
      link.textContent = "Open";
      text.appendChild(document.createTextNode(" "));
      text.appendChild(link);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () {
      toast.remove();
    });
    toast.appendChild(text);
    toast.appendChild(close);
    box.appendChild(toast);
    window.setTimeout(function () {
      toast.remove();
    }, SHOW_MS);
  }

  function poll() {
    if (document.hidden) {
      window.setTimeout(poll, POLL_MS);
      return;
    }
    fetch(box.dataset.url + "?after=" + after, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) {
          return;
        }
        data.notifications.forEach(function (note) {
          after = Math.max(after, note.id);
          show(note);
        });
        if (counter) {
          counter.textContent = String(data.unread);
        }
      })
      .catch(function () {
        // Offline or restarting: try again at the next tick.
      })
      .then(function () {
        window.setTimeout(poll, POLL_MS);
      });
  }

  poll();
})();
