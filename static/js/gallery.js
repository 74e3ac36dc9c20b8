// Gallery cards: hovering (or focusing) a poster steps through its spritesheet;
// clicking it plays the video in place. Event delegation keeps it working for
// cards htmx adds later.
(function () {
  "use strict";
  var timers = new WeakMap();

  function showFrame(el, index) {
    var cols = Number(el.dataset.cols), rows = Number(el.dataset.rows);
    var count = cols * rows;
    var i = ((index % count) + count) % count;
    var col = i % cols, row = Math.floor(i / cols);
    var layer = el.querySelector(".sprite");
    layer.style.backgroundImage = 'url("' + el.dataset.sprite + '")';
    layer.style.backgroundSize = cols * 100 + "% " + rows * 100 + "%";
    layer.style.backgroundPosition =
      (cols > 1 ? (col / (cols - 1)) * 100 : 0) + "% " + (rows > 1 ? (row / (rows - 1)) * 100 : 0) + "%";
    layer.hidden = false;
    el.dataset.frame = String(i);
  }

  // Styles set from script are fine under the page's CSP, but they show up as style
  // attributes in htmx's history snapshots, which the CSP refuses when restored.
  function hide(el) {
    var layer = el.querySelector(".sprite");
    if (layer) {
      layer.hidden = true;
      layer.removeAttribute("style");
    }
    delete el.dataset.frame;
    clearInterval(timers.get(el));
  }

  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll(".scrub[data-sprite]").forEach(hide);
  });

  document.addEventListener("pointermove", function (event) {
    var el = event.target.closest && event.target.closest(".scrub[data-sprite]");
    if (!el) return;
    var box = el.getBoundingClientRect();
    var fraction = Math.min(0.999, Math.max(0, (event.clientX - box.left) / box.width));
    showFrame(el, Math.floor(fraction * Number(el.dataset.cols) * Number(el.dataset.rows)));
  });
  document.addEventListener("pointerout", function (event) {
    var el = event.target.closest && event.target.closest(".scrub[data-sprite]");
    if (el && !el.contains(event.relatedTarget)) hide(el);
  });
  // Keyboards get the same preview: it plays through while the poster has focus.
  document.addEventListener("focusin", function (event) {
    var el = event.target.closest && event.target.closest(".scrub[data-sprite]");
    if (!el) return;
    var frame = 0;
    showFrame(el, frame);
    timers.set(el, setInterval(function () { showFrame(el, ++frame); }, 450));
  });
  document.addEventListener("focusout", function (event) {
    var el = event.target.closest && event.target.closest(".scrub[data-sprite]");
    if (el) hide(el);
  });
  document.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest(".scrub.play");
    if (!el) return;
    hide(el);
    var video = document.createElement("video");
    video.controls = true;
    video.autoplay = true;
    video.playsInline = true;
    video.src = el.dataset.video;
    if (el.dataset.poster) video.poster = el.dataset.poster;
    el.replaceWith(video);
    video.focus();
  });
})();
