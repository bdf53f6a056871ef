/* Flask-Gamify dashboard: the "Who would qualify?" panel of the goal editor.

   Posts the form's CURRENT criteria (the criteria textarea, saved or not) and goal options
   (entity_type, starts_at, ends_at, repeatable, max_awards inputs, by name) to the
   panel's data-preview-url, and shows how many entities progressed and would complete,
   a histogram of their progress as bars with the numbers beside them, how many events
   were read and since when, and a sample: each entity links to the progress browser
   (data-progress-url) and opens its progress tree in place. */
(function ($) {
  "use strict";

  var G = window.Gamify;
  var OPTIONS = ["entity_type", "starts_at", "ends_at", "repeatable", "max_awards"];

  function number(n) { return Number(n).toLocaleString(); }

  function plural(n, one, many) { return number(n) + " " + (n === 1 ? one : many); }

  function readableDate(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) { return iso; }
    return date.toLocaleString(undefined, {year: "numeric", month: "short", day: "numeric",
                                           hour: "2-digit", minute: "2-digit"});
  }

  function bucketLabel(bucket) {
    return bucket === "100" ? "100 % (complete)" : bucket.replace("-", "–") + " %";
  }

  function Panel($panel) {
    this.$panel = $panel;
    this.$result = $panel.find(".gamify-preview-result");
    this.$button = $panel.find(".gamify-preview-run");
    this.$form = $("form").has('[name="' + ($panel.data("criteria-field") || "criteria") + '"]')
      .first();
    this.url = $panel.data("preview-url");
    this.progressUrl = $panel.data("progress-url");
    this.field = $panel.data("criteria-field") || "criteria";
  }

  Panel.prototype.start = function () {
    var self = this;
    // Sit right under the criteria, where the question arises.
    var $group = this.$form.find('[name="' + this.field + '"]').closest(".form-group");
    if ($group.length) { this.$panel.insertAfter($group); }
    this.$button.on("click", function () { self.run(); });
    this.$result.on("click", ".gamify-preview-toggle", function () {
      var $row = $(this).closest("tr").next(".gamify-preview-tree-row");
      var open = $row.hasClass("d-none");
      $row.toggleClass("d-none", !open);
      $(this).attr("aria-expanded", open ? "true" : "false")
        .text(open ? "Hide progress" : "Show progress");
    });
    this.$form.find('[name="' + this.field + '"]').on("input gamify:criteria-changed", function () {
      self.$panel.addClass("gamify-preview-stale");
    });
  };

  Panel.prototype.criteria = function () {
    var text = $.trim(this.$form.find('[name="' + this.field + '"]').val() || "");
    if (!text) { return {problem: "Build the criteria first: the preview runs them."}; }
    try {
      return {criteria: JSON.parse(text)};
    } catch (e) {
      return {problem: "The criteria are not valid JSON yet (" + e.message + "); fix them in the" +
              " JSON tab first."};
    }
  };

  Panel.prototype.run = function () {
    var self = this;
    var read = this.criteria();
    if (read.problem) {
      this.$result.html($('<div class="alert alert-warning mb-0"></div>').text(read.problem));
      return;
    }
    var formOptions = window.GamifyCriteria ? window.GamifyCriteria.formOptions :
      function () { return {}; };
    var body = {criteria: read.criteria, options: formOptions(this.$form, OPTIONS), sample: 10};
    this.$button.prop("disabled", true).text("Running…");
    this.$panel.removeClass("gamify-preview-stale");
    G.send(this.url, body).then(function (answer) {
      self.$button.prop("disabled", false).text("Run again");
      if (answer.ok) {
        self.show(answer.data, body.options.entity_type || "user");
      } else {
        self.problem(answer);
      }
    }).catch(function () {
      self.$button.prop("disabled", false).text("Run on the event log");
      self.$result.html('<div class="alert alert-danger mb-0">The server could not be reached;' +
        " try again.</div>");
    });
  };

  Panel.prototype.problem = function (answer) {
    var data = answer.data || {};
    var $alert = $('<div class="alert alert-danger mb-0"></div>')
      .append($("<p class='mb-1'></p>").text(answer.status === 422 ?
        "Fix the criteria first; the preview cannot run them:" :
        (data.message || "The preview failed.")));
    var fields = data.fields || {};
    if (!$.isEmptyObject(fields)) {
      var $list = $('<ul class="mb-0"></ul>');
      $.each(fields, function (path, messages) {
        $list.append($("<li></li>").text(path + ": " + messages.join(" ")));
      });
      $alert.append($list);
      if (window.GamifyCriteria) { window.GamifyCriteria.showErrors(fields); }
    }
    this.$result.empty().append($alert);
  };

  Panel.prototype.show = function (data, entityType) {
    var $out = $('<div class="gamify-preview-answer"></div>');
    var $stats = $('<div class="gamify-preview-stats"></div>').appendTo($out);
    $.each([[data.completed, "would complete", "gamify-preview-completed"],
            [data.entities, "made progress", "gamify-preview-entities"]], function (_, stat) {
      $stats.append($('<div class="gamify-preview-stat"></div>').addClass(stat[2])
        .append($('<span class="gamify-preview-number"></span>').text(number(stat[0])))
        .append($('<span class="gamify-preview-caption"></span>').text(stat[1])));
    });
    var scanned = plural(data.events_scanned, "event", "events") + " read";
    $out.append($('<p class="gamify-preview-scanned text-muted small"></p>').text(
      data.since ? scanned + ", the oldest from " + readableDate(data.since) + "." :
      scanned + "."));
    if (!data.entities) {
      $out.append($('<p class="gamify-empty gamify-preview-empty"></p>').text(
        data.events_scanned ?
          "Nobody has made any progress under these criteria yet." :
          "No event in the log matches these criteria's event types, so nobody would" +
          " qualify yet. Check the event names (the builder suggests those it has seen)."));
      this.$result.empty().append($out);
      return;
    }
    $out.append(this.histogram(data.histogram));
    $out.append(this.sample(data.sample, entityType));
    this.$result.empty().append($out);
  };

  Panel.prototype.histogram = function (histogram) {
    // JSON objects have no order (Flask sorts keys): order the buckets by their low end.
    var buckets = Object.keys(histogram).sort(function (a, b) {
      return parseInt(a, 10) - parseInt(b, 10);
    });
    var most = Math.max.apply(null, buckets.map(function (b) { return histogram[b]; }).concat([1]));
    var $figure = $('<figure class="gamify-preview-histogram"></figure>');
    $figure.append('<figcaption class="small text-muted">How far those who made progress' +
      " are</figcaption>");
    var $table = $('<table class="table table-sm gamify-bars mb-0"></table>').appendTo($figure);
    var $body = $("<tbody></tbody>").appendTo($table);
    $.each(buckets, function (_, bucket) {
      var count = histogram[bucket];
      var $bar = $('<div class="gamify-bar"></div>')
        .css("width", (100 * count / most) + "%")
        .toggleClass("gamify-bar-complete", bucket === "100");
      $body.append($("<tr></tr>")
        .append($('<th scope="row" class="gamify-bar-label"></th>').text(bucketLabel(bucket)))
        .append($('<td class="gamify-bar-cell"></td>').append($bar))
        .append($('<td class="gamify-number gamify-bar-count"></td>').text(number(count))));
    });
    return $figure;
  };

  Panel.prototype.sample = function (sample, entityType) {
    var self = this;
    var $section = $('<div class="gamify-preview-sample"></div>');
    $section.append($('<h6 class="mt-3"></h6>').text("Furthest along (" + sample.length + ")"));
    var $table = $('<table class="table table-sm gamify-preview-table"></table>')
      .append("<thead><tr><th>Entity</th><th>Progress</th><th class='gamify-number'>Done</th>" +
        "<th></th></tr></thead>");
    var $body = $("<tbody></tbody>").appendTo($table);
    $.each(sample, function (index, item) {
      var progress = item.progress;
      var $entity = self.progressUrl ?
        $("<a></a>").attr("href", self.progressUrl + "?" + $.param({entity: item.entity,
          entity_type: item.entity_type || entityType})).text(item.entity)
          .attr("title", "Open " + item.entity + " in the progress browser") :
        $("<span></span>").text(item.entity);
      var treeId = "gamify-preview-tree-" + index;
      $body.append($('<tr class="gamify-preview-entity"></tr>')
        .append($("<td></td>").append($entity))
        .append($("<td></td>").append(self.meter(progress.percent, progress.completed)))
        .append($('<td class="gamify-number"></td>').text(
          progress.completed ? "✓ complete" : progress.current + " / " + progress.target))
        .append($('<td class="text-right"></td>').append(
          $('<button type="button" class="btn btn-link btn-sm gamify-preview-toggle p-0"' +
            ' aria-expanded="false">Show progress</button>').attr("aria-controls", treeId))));
      $body.append($('<tr class="gamify-preview-tree-row d-none"></tr>').attr("id", treeId)
        .append($('<td colspan="4"></td>').append(self.tree(progress))));
    });
    return $section.append($('<div class="table-responsive"></div>').append($table));
  };

  Panel.prototype.meter = function (percent, completed) {
    return $('<div class="progress gamify-meter"></div>').attr({
      role: "progressbar", "aria-valuenow": percent, "aria-valuemin": 0, "aria-valuemax": 100
    }).append($('<div class="progress-bar"></div>').css("width", percent + "%")
      .toggleClass("bg-success", !!completed).text(percent + " %"));
  };

  Panel.prototype.tree = function (node) {
    var self = this;
    var $item = $('<div class="gamify-tree-node"></div>');
    $item.append($('<span class="gamify-tree-mark"></span>').text(node.completed ? "✓" : "○")
      .toggleClass("text-success", !!node.completed));
    $item.append($('<span class="gamify-tree-label"></span>').text(" " + (node.label || node.type)));
    $item.append($('<span class="gamify-tree-count text-muted"></span>').text(
      " — " + node.current + " / " + node.target + " (" + node.percent + " %)"));
    if (node.missing && node.missing.length) {
      $item.append($('<div class="gamify-tree-missing small"></div>').text(
        "Missing: " + node.missing.map(function (v) {
          return typeof v === "string" ? v : JSON.stringify(v);
        }).join(", ")));
    }
    if (node.children && node.children.length) {
      var $children = $('<div class="gamify-tree-children"></div>');
      $.each(node.children, function (_, childNode) { $children.append(self.tree(childNode)); });
      $item.append($children);
    }
    return $item;
  };

  $(function () {
    $('[data-role="gamify-preview"]').each(function () { new Panel($(this)).start(); });
  });
})(window.jQuery);
