// Video cards on every list (My videos, a family, the gallery): a card loads its
// poster only. Hovering the poster (or focusing it) shows one frame of the
// spritesheet at a time, whole, in a box of the video's shape (letterboxed, never
// stretched); clicking it plays the video in place. Event delegation keeps it working
// for cards htmx adds or swaps in later (the progress poller's finished cards).
(function () {
  "use strict";
  var timers = new WeakMap();
  var reduced = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
  var PREVIEW = ".scrub[data-sprite]";

  function frameCount(el) {
    var cols = Number(el.dataset.cols), rows = Number(el.dataset.rows);
    var frames = Number(el.dataset.frames);
    return frames >= 1 && frames <= cols * rows ? frames : cols * rows;
  }

  // The largest box of the video's shape that fits the poster, centred in it.
  function fit(el, layer) {
    var width = Number(el.dataset.width), height = Number(el.dataset.height);
    var boxW = el.clientWidth, boxH = el.clientHeight;
    var scale = Math.min(boxW / width, boxH / height);
    var w = width * scale, h = height * scale;
    layer.style.width = w + "px";
    layer.style.height = h + "px";
    layer.style.left = (boxW - w) / 2 + "px";
    layer.style.top = (boxH - h) / 2 + "px";
  }

  // One tile of the sheet fills the box: the sheet is drawn cols x rows times the
  // box's size, moved so that tile (col, row) is the part that shows.
  function showFrame(el, index) {
    var cols = Number(el.dataset.cols), rows = Number(el.dataset.rows);
    var count = frameCount(el);
    var i = ((index % count) + count) % count;
    var col = i % cols, row = Math.floor(i / cols);
    var layer = el.querySelector(".sprite");
    fit(el, layer);
    layer.style.backgroundImage = 'url("' + el.dataset.sprite + '")';
    layer.style.backgroundSize = cols * 100 + "% " + rows * 100 + "%";
    layer.style.backgroundPosition =
      (cols > 1 ? (col / (cols - 1)) * 100 : 0) + "% " + (rows > 1 ? (row / (rows - 1)) * 100 : 0) + "%";
    layer.hidden = false;
    el.classList.add("previewing");
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
    el.classList.remove("previewing");
    delete el.dataset.frame;
    clearInterval(timers.get(el));
    timers.delete(el);
  }

  function preview(target) {
    return target && target.closest ? target.closest(PREVIEW) : null;
  }

  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll(PREVIEW).forEach(hide);
  });

  document.addEventListener("pointermove", function (event) {
    var el = preview(event.target);
    if (!el) return;
    var box = el.getBoundingClientRect();
    var fraction = Math.min(0.999, Math.max(0, (event.clientX - box.left) / box.width));
    showFrame(el, Math.floor(fraction * frameCount(el)));
  });
  document.addEventListener("pointerout", function (event) {
    var el = preview(event.target);
    if (el && !el.contains(event.relatedTarget) && !timers.has(el) && el !== document.activeElement) hide(el);
  });
  // Keyboards get the same preview: it plays through while the poster has focus;
  // with reduced motion asked for, it holds on the middle frame instead.
  document.addEventListener("focusin", function (event) {
    var el = preview(event.target);
    if (!el) return;
    clearInterval(timers.get(el));
    var frame = reduced && reduced.matches ? Math.floor(frameCount(el) / 2) : 0;
    showFrame(el, frame);
    if (reduced && reduced.matches) return;
    timers.set(el, setInterval(function () { showFrame(el, ++frame); }, 450));
  });
  document.addEventListener("focusout", function (event) {
    var el = preview(event.target);
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
    if (el.dataset.poster) video.poster = el.dataset.poster;
    video.src = el.dataset.video;
    el.replaceWith(video);
    video.focus();
  });
  // A card (or a video's page) the progress poller redraws, its notice changed say,
  // keeps the video that plays in it: the new content takes the old player, so
  // playback goes on uninterrupted.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var old = event.detail.target, fragment = event.detail.fragment;
    if (!old || !old.querySelector || !fragment) return;
    var playing = old.querySelector(".media video, .player video");
    if (!playing || (playing.paused && playing.currentTime === 0)) return;
    var box = playing.closest(".media, .player");
    var fresh = fragment.querySelector(box.classList.contains("media") ? ".media" : ".player");
    if (fresh) fresh.replaceWith(box);
  });
})();
