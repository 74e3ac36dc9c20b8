// Say when a job finishes, once: the page's polite live region (#announcer) reads
// "Ready: …" or "Failed: …" when a card it saw working comes back done (cards carry
// data-phase and data-announce, see videos/announce.html). In a background tab the
// title counts what finished, and, if the member allowed it, a browser notification
// tells of their own jobs. Permission is asked once, and only when they click
// "Tell me when my videos are ready".
(function () {
  "use strict";
  var seen = new Map(); // card id -> the phase it was in
  var said = new Set(); // card id + phase already announced (a page restored from
  // history shows cards as they were, working: they are not announced again)
  var unseen = 0;
  var title = document.title;

  function say(text, mine) {
    var region = document.getElementById("announcer");
    if (!region) return;
    var line = document.createElement("p");
    line.textContent = text;
    region.appendChild(line);
    while (region.childElementCount > 5) region.firstElementChild.remove();
    if (!document.hidden) return;
    unseen += 1;
    document.title = "(" + unseen + ") " + title;
    if (mine && "Notification" in window && Notification.permission === "granted") {
      try {
        new Notification("videostudio", {body: text, tag: "videostudio-" + text});
      } catch (error) {
        // Some browsers (Chrome on Android) only notify from a service worker: the
        // title and the live region have said it.
      }
    }
  }

  function scan(announce) {
    var working = false;
    document.querySelectorAll("[data-phase][id]").forEach(function (card) {
      var before = seen.get(card.id), now = card.dataset.phase;
      seen.set(card.id, now);
      if (now === "working") working = true;
      var key = card.id + " " + now;
      if (announce && before === "working" && now !== "working" && card.dataset.announce
          && !said.has(key)) {
        said.add(key);
        say(card.dataset.announce, card.hasAttribute("data-mine"));
      }
    });
    offer(working);
  }

  function offer(working) {
    var button = document.getElementById("notify-ask");
    if (!button) return;
    button.hidden = !(working && "Notification" in window && Notification.permission === "default");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("#notify-ask");
    if (!button || !("Notification" in window)) return;
    Promise.resolve(Notification.requestPermission()).then(function () { button.hidden = true; });
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && unseen) {
      unseen = 0;
      document.title = title;
    }
  });
  document.addEventListener("DOMContentLoaded", function () { scan(false); });
  document.addEventListener("htmx:afterSettle", function () { scan(true); });
})();
