// teams: after a key is created, its one-time answer replaces the address of the POST
// with the team's page, so a reload shows the team (without the key), never re-posts.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var once = document.querySelector("[data-replace-url]");
    if (once && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", once.dataset.replaceUrl);
    }
  });
})();
