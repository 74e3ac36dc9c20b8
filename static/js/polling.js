// The page's poller (videos/poller.html) asks when the server expects the next change.
// While the tab is hidden it asks at most every data-hidden-every seconds (a finished
// job still gets announced, and its tab title badged), and at once when the tab shows
// again (its trigger includes visibilitychange). An htmx trigger filter would say the
// same, but htmx runs filters through eval, which the page's Content-Security-Policy
// forbids.
(function () {
  "use strict";
  var last = Date.now();
  document.addEventListener("htmx:beforeRequest", function (event) {
    var el = event.detail.elt;
    if (el.id !== "poller") return;
    if (document.hidden && Date.now() - last < Number(el.dataset.hiddenEvery || 60) * 1000) {
      event.preventDefault();
      return;
    }
    last = Date.now();
  });
})();
