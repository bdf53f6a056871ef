/* Flask-Gamify dashboard, Operations page: confirmations, "select all", copying a new key.
   The page works without it (forms post as they are); this only adds the niceties. */
(function () {
  "use strict";

  /* A form, or the button that submits it, may carry data-gamify-confirm="question?". */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute("data-gamify-confirm")) ||
      form.getAttribute("data-gamify-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  /* <input type="checkbox" data-gamify-check-all="ids"> ticks every box named "ids". */
  document.addEventListener("change", function (event) {
    var name = event.target.getAttribute && event.target.getAttribute("data-gamify-check-all");
    if (!name) { return; }
    var form = event.target.form || document;
    form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  /* <button data-gamify-copy="#input"> copies that input's value. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-gamify-copy]");
    if (!button) { return; }
    var input = document.querySelector(button.getAttribute("data-gamify-copy"));
    if (!input) { return; }
    input.select();
    var done = function () {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        button.textContent = "Press Ctrl+C";
      });
    } else {
      button.textContent = "Press Ctrl+C";
    }
  });
})();
