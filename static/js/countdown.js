// Keep "expires in …" countdowns current without reloading the page.
(function () {
  "use strict";
  function render(el) {
    var left = Math.max(0, Date.parse(el.getAttribute("datetime")) - Date.now());
    var minutes = Math.floor(left / 60000), hours = Math.floor(minutes / 60);
    el.textContent = hours >= 48 ? Math.floor(hours / 24) + " days"
      : hours ? hours + " h " + (minutes % 60) + " min" : minutes + " min";
  }
  function tick() { document.querySelectorAll("time.countdown").forEach(render); }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 30000);
})();
