// The add-provider form adapts to the chosen type: the base URL is marked required
// (OpenAI-compatible), optional with its default (Anthropic, OpenAI…) or hidden (Mock),
// and the key fields hide for types that need no key. Without this script every field
// shows with its hint and the server checks the type's rules.
(function () {
  "use strict";

  function fieldOf(id) {
    var control = document.getElementById(id);
    return control ? control.closest(".field") : null;
  }

  function adapt(select) {
    var option = select.options[select.selectedIndex];
    if (!option) return;
    var base = fieldOf("base_url");
    if (base) {
      var needed = option.dataset.needsBaseUrl === "true";
      base.hidden = option.dataset.usesBaseUrl !== "true";
      base.querySelector("input").required = needed;
      var label = base.querySelector("label");
      var marker = label.querySelector(".required");
      if (needed && !marker) {
        marker = document.createElement("span");
        marker.className = "required";
        marker.textContent = " (required)";
        label.appendChild(marker);
      } else if (!needed && marker) {
        marker.remove();
      }
      var help = document.getElementById("base_url-help");
      if (help) help.textContent = option.dataset.baseUrlHint;
    }
    var keys = document.querySelector("[data-key-fields]");
    if (keys) keys.hidden = option.dataset.needsKey !== "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.querySelector("select[data-provider-type]");
    if (!select) return;
    select.addEventListener("change", function () { adapt(select); });
    adapt(select);
  });
})();
