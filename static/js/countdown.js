// Keep "… left" countdowns current without reloading the page: minutes, then seconds
// in the last minute. When one ends the page's poller is already due (the server
// times it to the expiry) and redraws the card. Clock times show in the reader's
// own time zone.
(function () {
  "use strict";
  function left(el) {
    var ms = Math.max(0, Date.parse(el.getAttribute("datetime")) - Date.now());
    var seconds = Math.floor(ms / 1000), minutes = Math.floor(seconds / 60);
    var hours = Math.floor(minutes / 60);
    if (seconds < 60) return seconds + " s";
    if (hours >= 48) return Math.floor(hours / 24) + " days";
    return hours ? hours + " h " + (minutes % 60) + " min" : minutes + " min";
  }
  function clock(el) {
    var at = new Date(el.getAttribute("datetime"));
    var options = {hour: "2-digit", minute: "2-digit"};
    if (at.toDateString() !== new Date().toDateString()) {
      options.day = "numeric";
      options.month = "short";
    }
    return at.toLocaleString([], options);
  }
  function set(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }
  function tick() {
    document.querySelectorAll("time.countdown").forEach(function (el) { set(el, left(el)); });
  }
  function clocks() {
    document.querySelectorAll("time.clock").forEach(function (el) { set(el, clock(el)); });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); clocks(); });
  document.addEventListener("htmx:afterSettle", function () { tick(); clocks(); });
  setInterval(tick, 1000);
})();
