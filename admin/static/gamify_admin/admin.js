/* Flask-Gamify dashboard: the helpers every page's script uses. No inline scripts:
   pages work under a `script-src 'self'` Content-Security-Policy. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="gamify-csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* POST (or another method) JSON to one of our endpoints, with the CSRF token.
     Resolves to {ok, status, data}; data is the parsed JSON answer (or null). */
  function send(url, body, method) {
    return fetch(url, {
      method: method || "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken()
      },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = {message: text}; }
        return {ok: response.ok, status: response.status, data: data};
      });
    });
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().then(function (data) {
          return {ok: response.ok, status: response.status, data: data};
        });
      });
  }

  /* Read JSON a page embedded in <script type="application/json" id="...">. */
  function pageData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  window.Gamify = {csrfToken: csrfToken, send: send, getJSON: getJSON, pageData: pageData,
                   escapeHtml: escapeHtml};
})();
