// Starts Swagger UI on the REST API docs page (no inline script: the page's CSP allows
// scripts from this server only). The OpenAPI document's URL is in data-openapi-url.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    // Never send the document to the online validator (and load no badge from it).
    validatorUrl: null,
    // The viewer shows the document it was given, never one named in the query string.
    queryConfigEnabled: false,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
  });
})();
