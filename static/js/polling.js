// The page's poller (videos/poller.html) skips its turn while the tab is hidden, and
// asks at once when the tab shows again (its trigger includes visibilitychange).
// An htmx trigger filter ([!document.hidden]) would say the same, but htmx runs
// filters through eval, which the page's Content-Security-Policy forbids.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.hidden && event.detail.elt.id === "poller") event.preventDefault();
  });
})();
