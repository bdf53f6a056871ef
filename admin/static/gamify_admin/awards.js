/* The Awards page: fill the revoke dialog from the button that opened it, and open it
   again when the server sent it back with an error. */
(function ($) {
  "use strict";
  if (!$) { return; }

  $(document).on("show.bs.modal", "#revoke-modal", function (event) {
    var button = event.relatedTarget ? $(event.relatedTarget) : null;
    if (!button || !button.hasClass("gamify-revoke")) { return; }
    var form = $(this).find("form");
    form.find("[name=goal]").val(button.attr("data-goal"));
    form.find("[name=entity]").val(button.attr("data-entity"));
    form.find("[name=entity_type]").val(button.attr("data-entity-type"));
    form.find("[name=occurrence]").val(button.attr("data-occurrence"));
    form.find("[data-slot=goal]").text(button.attr("data-goal-name"));
    form.find("[data-slot=entity]").text(button.attr("data-entity"));
    form.find("[data-slot=occurrence]").text(button.attr("data-occurrence"));
    form.find("textarea[name=reason]").val("").removeClass("is-invalid");
    form.find(".invalid-feedback").remove();
    form.find("[name=reset_progress]").prop("checked", false);
  });

  $(document).on("shown.bs.modal", "#revoke-modal", function () {
    $(this).find("textarea[name=reason]").trigger("focus");
  });

  // A reason being typed answers the error the server gave about it.
  $(document).on("input", "#revoke-modal textarea[name=reason]", function () {
    $(this).removeClass("is-invalid").siblings(".invalid-feedback").remove();
  });

  $(function () {
    var modal = $("#revoke-modal");
    if (modal.data("open")) { modal.modal("show"); }
  });
})(window.jQuery);
