// tollway console: small progressive enhancement. Every page works without it.
//  - <form data-confirm="Delete this?">: asks before submitting.
//  - <button data-copy="#element-id">: copies that element's text.
//  - <div data-poll="/console/…/fragment" data-poll-interval="2000">: replaces its own
//    content with the fragment URL's HTML until the fragment answers with an element
//    carrying data-poll-done (or the server answers 286, htmx's "stop polling").
(function () {
  "use strict";

  function onConfirm(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  }

  function onCopy(event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.querySelector(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    var text = "value" in source ? source.value : source.textContent;
    navigator.clipboard.writeText(text).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  }

  function poll(element) {
    var url = element.dataset.poll;
    var interval = parseInt(element.dataset.pollInterval || "2000", 10);
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.redirected || !response.ok && response.status !== 286) {
            throw new Error("poll stopped: " + response.status);
          }
          return response.text().then(function (html) { return [response.status, html]; });
        })
        .then(function (answer) {
          element.innerHTML = answer[1];
          if (answer[0] === 286 || element.querySelector("[data-poll-done]")) {
            element.removeAttribute("aria-busy");
            return;
          }
          setTimeout(tick, interval);
        })
        .catch(function () { element.removeAttribute("aria-busy"); });
    }
    element.setAttribute("aria-busy", "true");
    setTimeout(tick, interval);
  }

  document.addEventListener("submit", onConfirm);
  document.addEventListener("click", onCopy);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
  });
})();
