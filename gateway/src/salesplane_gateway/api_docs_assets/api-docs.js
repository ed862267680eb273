// Swagger UI over the gateway's OpenAPI document (api_docs.py). A browser signed in at /auth/login
// sends its session cookie; state-changing calls then need the session's CSRF token, which
// /auth/session gives to same-origin scripts. Without a session, "Authorize" takes a bearer token.
"use strict";

(function () {
  let csrfToken = null;
  fetch("/auth/session", { credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : null))
    .then((session) => {
      csrfToken = session ? session.csrf_token : null;
    })
    .catch(() => {});

  const SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // No call to swagger.io: the page works offline, and the document is checked by our tests.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: (request) => {
      if (csrfToken && !SAFE_METHODS.includes((request.method || "GET").toUpperCase())) {
        request.headers["X-CSRF-Token"] = csrfToken;
      }
      return request;
    },
  });
})();
