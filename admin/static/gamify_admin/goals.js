/* Flask-Gamify dashboard: the Goals pages. The icon picker and the badge preview card,
   confirmations, "Make active" with its progress bar, and what an edit of a live goal
   will do. Data comes from <script type="application/json"> blocks (see the templates). */
(function () {
  "use strict";

  var G = window.Gamify;

  function byId(id) { return document.getElementById(id); }

  /* -- confirmations (archive) ------------------------------------------------------ */

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-gamify-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  /* Flask-Admin's filter menu links (their inline handlers are gone): no navigation. */
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.filter");
    if (link) { event.preventDefault(); }
  });

  /* -- the icon picker and the badge preview card ------------------------------------ */

  function setupBadgePreview() {
    var card = byId("gamify-badge-card");
    var iconInput = document.querySelector('input[data-role="gamify-icon"]');
    if (!card || !iconInput) { return; }
    var iconUrls = G.pageData("gamify-icon-urls") || {};
    var nameInput = byId("name"), keyInput = byId("key");
    var descriptionInput = byId("description"), pointsInput = byId("points");
    var uploadInput = byId("icon_upload");
    var image = card.querySelector(".gamify-badge-icon");
    var placeholder = card.querySelector(".gamify-badge-placeholder");
    var uploadedUrl = null;

    function iconSource() {
      if (uploadedUrl) { return uploadedUrl; }
      var icon = iconInput.value.trim();
      if (!icon) { return null; }
      if (Object.prototype.hasOwnProperty.call(iconUrls, icon)) { return iconUrls[icon]; }
      return /^(https?:\/\/|\/)/.test(icon) ? icon : null;
    }

    function update() {
      var name = (nameInput && nameInput.value.trim()) || (keyInput && keyInput.value.trim());
      card.querySelector(".gamify-badge-name").textContent = name || "Untitled goal";
      card.querySelector(".gamify-badge-description").textContent =
        descriptionInput ? descriptionInput.value : "";
      var points = pointsInput && pointsInput.value !== "" ? pointsInput.value : "0";
      card.querySelector(".gamify-badge-points").textContent =
        points + (points === "1" ? " point" : " points");
      var source = iconSource();
      if (source) { image.setAttribute("src", source); }
      image.classList.toggle("d-none", !source);
      placeholder.classList.toggle("d-none", Boolean(source));
      var chosen = uploadedUrl ? null : iconInput.value.trim();
      document.querySelectorAll(".gamify-icon-choice").forEach(function (button) {
        var on = button.getAttribute("data-icon") === chosen;
        button.classList.toggle("active", on);
        button.setAttribute("aria-pressed", on ? "true" : "false");
      });
    }

    document.querySelectorAll(".gamify-icon-choice").forEach(function (button) {
      button.addEventListener("click", function () {
        iconInput.value = button.getAttribute("data-icon");
        if (uploadInput) { uploadInput.value = ""; }
        if (uploadedUrl) { URL.revokeObjectURL(uploadedUrl); uploadedUrl = null; }
        update();
      });
    });
    if (uploadInput) {
      uploadInput.addEventListener("change", function () {
        if (uploadedUrl) { URL.revokeObjectURL(uploadedUrl); uploadedUrl = null; }
        var file = uploadInput.files && uploadInput.files[0];
        if (file) { uploadedUrl = URL.createObjectURL(file); }
        update();
      });
    }
    [nameInput, keyInput, descriptionInput, pointsInput, iconInput].forEach(function (input) {
      if (input) { input.addEventListener("input", update); }
    });
    update();
  }

  /* -- "Make active": count history? notify? then follow the backfill ---------------- */

  function percentOf(backfill) {
    if (!backfill) { return 100; }
    if (backfill.status !== "queued" && backfill.status !== "running") { return 100; }
    return backfill.total ? Math.min(100, Math.round(100 * backfill.done / backfill.total)) : 0;
  }

  function showBar(bar, percent) {
    bar.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    bar.textContent = percent + "%";
  }

  function plural(count, one, many) { return count + " " + (count === 1 ? one : many); }

  function describe(status) {
    var backfill = status.backfill;
    if (!backfill) { return "The goal is active. History was not counted: only new events count."; }
    if (backfill.status === "failed") { return "Counting history failed: " + (backfill.error || "see the logs") + "."; }
    if (backfill.status === "queued") { return "Waiting for a worker to count history…"; }
    if (backfill.status === "running") {
      return "Counting history: " + backfill.done + " of " + plural(backfill.total, "entity", "entities") + "…";
    }
    return "Done: history counted for " + plural(backfill.total, "entity", "entities") + "; " +
      plural(backfill.awarded, "award", "awards") + " given" +
      (backfill.notify ? ", with notifications." : ", without notifications.");
  }

  /* Poll the status URL until the backfill is over; onStatus gets each answer. */
  function follow(url, onStatus) {
    G.getJSON(url).then(function (answer) {
      if (!answer.ok) { onStatus(null, answer.data && answer.data.message); return; }
      onStatus(answer.data);
      var backfill = answer.data.backfill;
      if (backfill && (backfill.status === "queued" || backfill.status === "running")) {
        window.setTimeout(function () { follow(url, onStatus); }, 700);
      }
    });
  }

  function setupActivation(page) {
    var modal = byId("gamify-activate-modal");
    if (!modal || !page) { return; }
    var confirm = byId("gamify-activate-confirm");
    var choices = modal.querySelector(".gamify-activate-choices");
    var progress = modal.querySelector(".gamify-activate-progress");
    var message = modal.querySelector(".gamify-activate-message");
    var result = modal.querySelector(".gamify-activate-result");
    var error = modal.querySelector(".gamify-activate-error");
    var bar = byId("gamify-backfill-bar");

    function finished(status) {
      var backfill = status.backfill;
      return !backfill || (backfill.status !== "queued" && backfill.status !== "running");
    }

    confirm.addEventListener("click", function () {
      confirm.disabled = true;
      error.classList.add("d-none");
      var body = {
        count_history: byId("gamify-count-history").checked,
        notify: byId("gamify-notify").checked
      };
      G.send(page.urls.activate, body).then(function (answer) {
        if (!answer.ok) {
          confirm.disabled = false;
          error.textContent = (answer.data && answer.data.message) || "The goal could not be activated.";
          error.classList.remove("d-none");
          return;
        }
        choices.classList.add("d-none");
        progress.classList.remove("d-none");
        confirm.classList.add("d-none");
        byId("gamify-activate-cancel").classList.add("d-none");
        var holder = document.querySelector(".gamify-status-holder");
        if (holder) { holder.innerHTML = '<span class="badge badge-success gamify-status">active</span>'; }
        var button = byId("gamify-activate-button");
        if (button) { button.classList.add("d-none"); }
        var draftNote = document.querySelector(".gamify-draft-note");
        if (draftNote) { draftNote.classList.add("d-none"); }  // it is not a draft any more
        var update = function (status, failure) {
          if (!status) { error.textContent = failure || "Lost track of the backfill; reload the page."; error.classList.remove("d-none"); return; }
          var percent = body.count_history ? percentOf(status.backfill) : 100;
          showBar(bar, percent);
          message.textContent = describe(body.count_history ? status : {backfill: null});
          if (finished(status) || !body.count_history) {
            bar.classList.remove("progress-bar-animated", "progress-bar-striped");
            bar.classList.add(status.backfill && status.backfill.status === "failed" ? "bg-danger" : "bg-success");
            result.textContent = "This goal now has " + plural(status.awards, "award", "awards") + ".";
            result.classList.add("gamify-activate-finished");
            var count = byId("gamify-awards-count");
            if (count) { count.textContent = String(status.awards); }
            byId("gamify-activate-done").classList.remove("d-none");
          }
        };
        update(answer.data);
        if (body.count_history && !finished(answer.data)) { follow(page.urls.status, update); }
      });
    });
  }

  /* The details page's card of the last backfill, followed while it runs. */
  function setupBackfillCard(page) {
    var card = byId("gamify-backfill-card");
    if (!card || !page || !page.backfill) { return; }
    var bar = byId("gamify-backfill-card-bar");
    var text = card.querySelector(".gamify-backfill-card-text");
    var update = function (status) {
      if (!status) { return; }
      showBar(bar, percentOf(status.backfill));
      text.textContent = describe(status);
    };
    update({backfill: page.backfill, awards: page.awards});
    var open = page.backfill.status === "queued" || page.backfill.status === "running";
    if (open) { follow(page.urls.status, update); }
  }

  /* -- editing a live goal: show what will happen, then save -------------------------- */

  function setupImpact(page) {
    var modal = byId("gamify-impact-modal");
    var form = document.querySelector("form.admin-form");
    if (!modal || !form || !page || !page.live) { return; }
    var confirmed = false, submitter = null;
    form.addEventListener("submit", function (event) {
      if (confirmed) { return; }
      event.preventDefault();
      submitter = event.submitter || null;
      var data = new FormData(form);
      data.delete("icon_upload");
      fetch(page.urls.impact, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Accept": "application/json", "X-CSRFToken": G.csrfToken()},
        body: data
      }).then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, data: body}; });
      }).then(function (answer) {
        if (!answer.ok) { save(); return; }  // the server shows the errors at their fields
        var impact = answer.data;
        modal.querySelector(".gamify-impact-changed").textContent = impact.changed.length
          ? "Changed: " + impact.changed.join(", ") + "." : "";
        var list = modal.querySelector(".gamify-impact-messages");
        list.innerHTML = impact.messages.map(function (line) {
          return "<li>" + G.escapeHtml(line) + "</li>";
        }).join("");
        window.jQuery(modal).modal("show");
      }, save);
    });

    function save() {
      confirmed = true;
      if (form.requestSubmit) { form.requestSubmit(submitter || undefined); } else { form.submit(); }
    }
    byId("gamify-impact-confirm").addEventListener("click", save);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = G.pageData("gamify-goal-page");
    setupBadgePreview();
    setupActivation(page);
    setupBackfillCard(page);
    setupImpact(page);
  });
})();
