// The console's only own script: tell the server the browser's time zone (a cookie read when
// pages render dates), unless the user chose one. Everything else works without script; htmx
// (vendored beside this file) does the partial updates.
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("tz=") === -1) {
      // Zone names are cookie-safe as they are (letters, "/", "_", "-", "+"): sent unencoded.
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (ignored) {
    // Without Intl the pages stay in UTC, as they say.
  }
})();
