// Focus stays where it was when htmx swaps the content around it: a poll's out-of-band
// card, a form answered in place, a star toggled. Without this the focused link, button
// or field is removed with the old content and the focus drops to <body>, so a keyboard
// or screen reader user loses their place (htmx itself brings it back only to an element
// with an id). Before a swap the focused element is described by the nearest ancestors
// with an id and by what it is (a link's address, a button's form, a field's name);
// after the swap, if the focus was lost, the same element in the new content gets it,
// with what the user had typed into it.
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, video[controls], [tabindex]";
  var pending = null;

  function focusables(root, withDisabled) {
    return Array.prototype.filter.call(root.querySelectorAll(FOCUSABLE), function (el) {
      return (withDisabled || !el.disabled) && el.getAttribute("tabindex") !== "-1";
    });
  }

  // What the element is, in words that survive its replacement by the server's copy.
  function signature(el) {
    if (el.hasAttribute("data-focus-key")) return "key " + el.getAttribute("data-focus-key");
    var form = el.form ? el.form.getAttribute("action") || "" : "";
    return [el.tagName, el.getAttribute("href") || "", form, el.getAttribute("name") || "",
      el.getAttribute("type") || ""].join(" ");
  }

  function describe(el) {
    var anchors = [];
    for (var up = el.parentElement; up; up = up.parentElement) {
      if (up.id) anchors.push(up.id);
    }
    var near = anchors.length ? document.getElementById(anchors[0]) : null;
    var all = near ? focusables(near, true) : [];
    var sig = signature(el);
    var text = el.tagName === "TEXTAREA" ||
      (el.tagName === "INPUT" && /^(text|search|email|url|tel|number)$/.test(el.type));
    var typed = text && el.value !== el.defaultValue;
    return {
      el: el, id: el.id, anchors: anchors, sig: sig, tag: el.tagName,
      sigIndex: all.filter(function (e) { return signature(e) === sig; }).indexOf(el),
      tagIndex: all.filter(function (e) { return e.tagName === el.tagName; }).indexOf(el),
      value: typed ? el.value : null,
      start: typed ? el.selectionStart : null, end: typed ? el.selectionEnd : null,
    };
  }

  function pick(list, index) {
    return list.length ? list[Math.min(Math.max(index, 0), list.length - 1)] : null;
  }

  function find(was) {
    if (was.id) {
      var same = document.getElementById(was.id);
      if (same) return same;
    }
    for (var i = 0; i < was.anchors.length; i++) {
      var anchor = document.getElementById(was.anchors[i]);
      if (!anchor) continue;
      var all = focusables(anchor);
      var near = i === 0;  // the indices were counted in the nearest anchor
      var bySig = all.filter(function (e) { return signature(e) === was.sig; });
      if (bySig.length) return near ? pick(bySig, was.sigIndex) : bySig[0];
      var byTag = all.filter(function (e) { return e.tagName === was.tag; });
      if (near && byTag.length) return pick(byTag, was.tagIndex);
      if (near && all.length) return all[0];
      // Nothing like it is left (the button went with the state that showed it): the
      // region itself takes the focus, rather than <body>.
      if (!anchor.hasAttribute("tabindex")) anchor.setAttribute("tabindex", "-1");
      return anchor;
    }
    return null;
  }

  function restore() {
    var was = pending;
    pending = null;
    if (!was || was.el.isConnected) return;  // not swapped out
    var now = document.activeElement;
    if (now && now !== document.body && now.isConnected) return;  // htmx or the user moved it
    var target = find(was);
    if (!target) return;
    target.focus({preventScroll: true});
    if (was.value !== null && target.tagName === was.tag && target.value === "") {
      target.value = was.value;
      try { target.setSelectionRange(was.start, was.end); } catch (e) { /* not a text field */ }
    }
  }

  // A button that htmx disables while its request runs (hx-disabled-elt) loses the focus
  // at once: it is remembered, and stands for the focus until its request is answered.
  var held = null, lost = null;

  document.addEventListener("htmx:beforeRequest", function () {
    var el = document.activeElement;
    held = el && el !== document.body ? el : null;
  });

  // Sent in the same task as beforeRequest, after htmx disabled what it disables.
  document.addEventListener("htmx:beforeSend", function () {
    if (held && held.disabled) lost = held;
  });

  document.addEventListener("htmx:beforeSwap", function () {
    var el = document.activeElement;
    if ((!el || el === document.body) && lost && lost.isConnected) el = lost;
    if (!el || el === document.body || pending) return;
    pending = describe(el);
    // htmx swaps (out-of-band parts included) in the same task, without a swap delay here.
    setTimeout(restore, 0);
  });

  // Answered without replacing it (a refusal, nothing to swap): it gets the focus back
  // once htmx enables it again (another request's answer may come first).
  document.addEventListener("htmx:afterRequest", function () {
    setTimeout(function () {
      if (!lost || lost.disabled) return;
      var now = document.activeElement;
      if (lost.isConnected && (!now || now === document.body)) lost.focus({preventScroll: true});
      lost = null;
    }, 0);
  });

  // A form redrawn without its text box (the provider's copy expired under a remix
  // being written, say) keeps what was typed on the page, to copy elsewhere.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var old = event.detail.target, fragment = event.detail.fragment;
    if (!old || !old.querySelectorAll || !fragment) return;
    var typed = Array.prototype.filter.call(old.querySelectorAll("textarea"), function (box) {
      return box.value.trim() !== "";
    });
    var fresh = fragment.firstElementChild;
    if (!typed.length || !fresh || fresh.querySelector("textarea")) return;
    typed.forEach(function (box) {
      var kept = document.createElement("p");
      kept.className = "kept";
      kept.textContent = "What you wrote, not sent: " + box.value;
      fresh.appendChild(kept);
    });
  });
})();
