// 听商: small progressive enhancements. Every page works without this file; it only adds
// (1) a live Markdown preview under textareas marked data-preview, rendered and sanitised by the
// server (the same renderer as the published pages), (2) title suggestions on the search box, and
// (3) on the assign form, the chosen lead agency's co-handling box greyed out (the server refuses
// the pair with a message when this file did not run).
"use strict";

(function () {
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  // (1) Live preview: POST the text with the form's CSRF token to /me/preview.
  function livePreview(textarea) {
    var form = textarea.form;
    var csrf = form && form.querySelector('input[name="csrf"]');
    if (!csrf) return;
    var box = document.createElement("section");
    box.className = "card live-preview";
    box.setAttribute("aria-live", "polite");
    var heading = document.createElement("h2");
    heading.textContent = "实时预览";
    var body = document.createElement("div");
    body.className = "prose";
    box.appendChild(heading);
    box.appendChild(body);
    form.parentNode.insertBefore(box, form.nextSibling);
    var latest = 0;
    var update = debounce(function () {
      var ticket = ++latest;
      var data = new URLSearchParams();
      data.set("csrf", csrf.value);
      data.set("body_md", textarea.value);
      fetch("/me/preview", { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          // The server returns sanitised HTML (ammonia); the newest answer wins.
          if (ticket === latest) body.innerHTML = html;
        })
        .catch(function () { /* the 预览 button still works */ });
    }, 250);
    textarea.addEventListener("input", update);
    if (textarea.value) update();
  }

  // (2) Suggestions: the titles of the best hits, offered through a <datalist>.
  function suggestions(input) {
    var list = document.createElement("datalist");
    list.id = "search-suggestions";
    input.parentNode.appendChild(list);
    input.setAttribute("list", list.id);
    input.setAttribute("autocomplete", "off");
    var latest = 0;
    input.addEventListener("input", debounce(function () {
      var q = input.value.trim();
      if (q.length < 2) return;
      var ticket = ++latest;
      fetch("/api/v1/search?per_page=6&q=" + encodeURIComponent(q))
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (result) {
          if (ticket !== latest) return;
          list.textContent = "";
          (result.hits || []).forEach(function (hit) {
            // title_html is escaped text with <mark>s; an inert <template> yields the plain text.
            var plain = document.createElement("template");
            plain.innerHTML = hit.title_html;
            var option = document.createElement("option");
            option.value = plain.content.textContent;
            list.appendChild(option);
          });
        })
        .catch(function () { /* plain search still works */ });
    }, 200));
  }

  // (3) A select marked data-excludes="NAME" disables the NAME checkbox with the same value.
  function excludes(select) {
    var boxes = select.form.querySelectorAll('input[type="checkbox"][name="' + select.dataset.excludes + '"]');
    function sync() {
      boxes.forEach(function (box) {
        var same = box.value === select.value;
        if (same) box.checked = false;
        box.disabled = same;
      });
    }
    select.addEventListener("change", sync);
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-excludes]").forEach(excludes);
    document.querySelectorAll("textarea[data-preview]").forEach(livePreview);
    var search = document.querySelector("input[data-suggest]");
    if (search) suggestions(search);
  });
})();
