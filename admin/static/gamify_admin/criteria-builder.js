/* Flask-Gamify dashboard: the visual criteria builder of the goal editor.

   Enhances every `[data-role="gamify-criteria"]` container rendered by CriteriaField:
   a "Builder" tab (cards, inputs and plain-English labels) beside a "JSON" tab holding
   the form's textarea, which stays the source of truth: the builder writes its JSON into
   the textarea, and valid JSON typed into the textarea re-renders the builder.

   The builder is driven by the criteria JSON Schema (GET data-schema-url): the types
   offered at each nesting level, each type's fields and which are required, the
   operators of `where` filters, enums and bounds. Known field names get friendlier
   inputs; a field the builder does not know still gets an input from its schema type.
   The server checks the criteria as you type (POST data-validate-url, debounced) and
   its messages appear at the input whose path they name ("criteria.of[1].target").
   Event types, attribute names and example values come from data-vocabulary-url.

   No inline code, no new library: jQuery and Bootstrap 4 are on every Flask-Admin page. */
(function ($) {
  "use strict";

  var G = window.Gamify;
  var DEBOUNCE_MS = 350;

  /* Words for people. The schema says what exists; this says how to call it. */
  var TYPE_WORDS = {
    count: ["Do something a number of times", "post 5 comments"],
    sum: ["Add up a number until it reaches a total", "spend 100 in total"],
    distinct: ["Do something for a number of different things", "read 10 different articles"],
    all_of: ["Do something for every item of a list", "read articles A, B and C"],
    streak: ["Do something several days or weeks in a row", "log in 3 days in a row"],
    sequence: ["Do steps in a given order", "add to cart, then check out"],
    all: ["All of several conditions", "every condition you list"],
    any: ["Any one of several conditions", "at least one of them"],
    goal: ["Complete another goal first", "a prerequisite"]
  };
  var OPERATOR_WORDS = {
    eq: "is", ne: "is not", lt: "is less than", lte: "is at most",
    gt: "is more than", gte: "is at least", "in": "is one of"
  };
  var PERIOD_WORDS = {day: "days in a row", week: "weeks in a row (Monday to Sunday)"};
  var UNITS = [["m", "minutes"], ["h", "hours"], ["d", "days"], ["w", "weeks"], ["s", "seconds"]];
  /* Field order in a card, then anything else the schema lists. */
  var FIELD_ORDER = ["label", "event", "field", "values", "labels", "target", "period", "window",
                     "steps", "of", "goal", "where"];


  function fieldLabel(type, name) {
    var labels = {
      event: "Event",
      target: {count: "How many times", distinct: "How many different values",
               streak: "How many in a row", sum: "Total to reach"}[type] || "Target",
      field: {sum: "Attribute to add up", distinct: "Count the different values of attribute",
              all_of: "Attribute"}[type] || "Attribute",
      values: "Each of these values (every one is needed)",
      window: type === "sequence" ? "All steps within" : "Within",
      period: "Counted in",
      where: "Only when",
      steps: "Steps, in this order",
      of: "",
      goal: "Goal that must be completed",
      label: "Label people see",
      labels: "Labels of the values"
    };
    return labels.hasOwnProperty(name) ? labels[name] : name.replace(/_/g, " ");
  }

  function fieldHelp(type, name) {
    return {
      event: "The event type your app tracks, such as article.read or login.",
      field: type === "sum" ? "A number in each event, such as amount." :
        "The attribute that tells the items apart, such as article_id.",
      values: "Type a value and press Enter, or pick one seen in the event log.",
      window: "Optional: leave empty to count all time.",
      where: "Optional: count only events whose attributes match.",
      labels: "Optional: a name people see for each value, such as the article's title."
    }[name] || "";
  }

  /* -- paths: "criteria.of[1].where.score" <-> ["of", 1, "where", "score"] ------------ */

  function child(path, key) {
    return typeof key === "number" ? path + "[" + key + "]" : path + "." + key;
  }

  function tokens(path, root) {
    var rest = path.slice(root.length);
    var out = [];
    var re = /\.([^.[\]]+)|\[(\d+)\]/g;
    var match;
    while ((match = re.exec(rest)) !== null) {
      out.push(match[1] !== undefined ? match[1] : Number(match[2]));
    }
    return out;
  }

  function parentPath(path) {
    var match = /^(.*)(\.[^.[\]]+|\[\d+\])$/.exec(path);
    return match ? match[1] : null;
  }

  /* -- values typed by people ------------------------------------------------------- */

  var NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

  /* A typed text as a JSON value. `kind` is what the value should be ("string",
     "number", "boolean", "json") when known (the event log's examples, or the value it
     replaces); otherwise numbers and true/false are read as such. */
  function parseValue(text, kind) {
    var trimmed = $.trim(text);
    if (kind === "json") {
      try { return JSON.parse(trimmed); } catch (e) { return trimmed; }
    }
    if (kind === "string") { return text; }
    if (NUMBER.test(trimmed) && kind !== "boolean") { return Number(trimmed); }
    if ((trimmed === "true" || trimmed === "false") && kind !== "number") {
      return trimmed === "true";
    }
    return text;
  }

  /* The key of a listed value in `labels` (the server's label_key): text is its own
     key, a number or boolean its JSON form. */
  function labelKey(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function kindOf(value) {
    if (value === null || typeof value === "object") { return "json"; }
    return typeof value;
  }

  function showValue(value) {
    return kindOf(value) === "json" ? JSON.stringify(value) : String(value);
  }

  function sameValue(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  function words(list) {
    if (list.length <= 1) { return list.join(""); }
    return list.slice(0, -1).join(", ") + " and " + list[list.length - 1];
  }

  var uid = 0;
  function newId(prefix) { uid += 1; return "gc-" + prefix + "-" + uid; }

  /* -- the schema ------------------------------------------------------------------- */

  function Schema(document) {
    this.defs = document.$defs || {};
  }

  Schema.prototype.resolve = function (node) {
    while (node && node.$ref) { node = this.defs[node.$ref.split("/").pop()]; }
    return node || {};
  };

  /* The definition of the criterion at nesting level `depth` (1: the root). */
  Schema.prototype.level = function (depth) {
    return this.defs[depth === 1 ? "Criterion" : "CriterionLevel" + depth] || null;
  };

  Schema.prototype.types = function (depth) {
    var level = this.level(depth);
    return level ? level.properties.type["enum"] : [];
  };

  /* {properties, required} of criterion `type` at `depth`. */
  Schema.prototype.shape = function (type, depth) {
    var level = this.level(depth) || this.level(1);
    var self = this;
    var found = null;
    $.each(level.oneOf || [], function (_, ref) {
      var def = self.resolve(ref);
      if (def.properties && def.properties.type && def.properties.type["const"] === type) {
        found = def;
        return false;
      }
      return true;
    });
    return found;
  };

  Schema.prototype.operators = function () {
    var ops = this.defs.Operators;
    return ops ? Object.keys(ops.properties) : ["eq"];
  };

  /* "a whole number, 1 or more" from a property's schema. */
  Schema.prototype.describeNumber = function (property) {
    var kind = property.type === "integer" ? "A whole number" : "A number";
    if (property.minimum !== undefined) { return kind + ", " + property.minimum + " or more."; }
    if (property.exclusiveMinimum !== undefined) {
      return kind + " above " + property.exclusiveMinimum + ".";
    }
    return kind + ".";
  };

  /* -- one builder ------------------------------------------------------------------ */

  function Builder($container) {
    this.$container = $container;
    this.$textarea = $container.find("textarea").first();
    this.$form = this.$textarea.closest("form");
    this.root = $container.data("field") || "criteria";
    this.urls = {
      validate: $container.data("validate-url"),
      vocabulary: $container.data("vocabulary-url"),
      schema: $container.data("schema-url")
    };
    this.vocabulary = {events: [], goals: []};
    this.errors = $container.data("errors") || {};
    this.showAll = !$.isEmptyObject(this.errors);
    this.touched = {};
    this.sequence = 0;
    this.timer = null;
    this.datalists = {};
    this.model = this.readTextarea() || {type: "count", target: 1};
  }

  Builder.prototype.readTextarea = function () {
    var text = $.trim(this.$textarea.val());
    if (!text) { return null; }
    try {
      var data = JSON.parse(text);
      return data && typeof data === "object" && !Array.isArray(data) ? data : null;
    } catch (e) {
      return null;
    }
  };

  Builder.prototype.start = function () {
    var self = this;
    this.layout();
    var schema = this.urls.schema ? G.getJSON(this.urls.schema) :
      $.Deferred().reject().promise();
    Promise.resolve(schema).then(function (answer) {
      if (!answer.ok) { throw new Error("no schema"); }
      self.schema = new Schema(answer.data);
      self.render();
      self.showErrors(self.errors);
    }).catch(function () {
      self.$builder.html('<p class="text-muted">The builder could not load the criteria' +
        " schema; edit the criteria as JSON.</p>");
      self.switchTab("json");
    });
    if (this.urls.vocabulary) {
      G.getJSON(this.urls.vocabulary).then(function (answer) {
        if (answer.ok) {
          self.vocabulary = answer.data;
          self.refreshSuggestions();
        }
      }).catch(function () { /* suggestions are a help, not a need */ });
    }
  };

  Builder.prototype.layout = function () {
    var self = this;
    var $c = this.$container.addClass("gc-ready");
    var $tabs = $('<ul class="nav nav-tabs gc-tabs" role="tablist">' +
      '<li class="nav-item"><a class="nav-link active" href="#" role="tab" data-gc-tab="builder">' +
      'Builder <span class="badge badge-danger gc-problems d-none"></span></a></li>' +
      '<li class="nav-item"><a class="nav-link" href="#" role="tab" data-gc-tab="json">JSON</a></li>' +
      "</ul>");
    this.$builderPane = $('<div class="gc-pane gc-pane-builder" data-gc-pane="builder"></div>');
    this.$builderPane.append('<p class="gc-intro">What must someone do to earn this goal?</p>');
    this.$builder = $('<div class="gc-root"></div>').appendTo(this.$builderPane);
    this.$summary = $('<p class="gc-summary"></p>').appendTo(this.$builderPane);
    this.$jsonPane = $('<div class="gc-pane gc-pane-json d-none" data-gc-pane="json"></div>');
    this.$jsonStatus = $('<div class="gc-json-status" aria-live="polite"></div>');
    $c.prepend(this.$jsonPane).prepend(this.$builderPane).prepend($tabs);
    $c.children("textarea, .gamify-criteria-help").appendTo(this.$jsonPane);
    this.$jsonPane.append(this.$jsonStatus);
    this.$status = $('<div class="gc-status small" aria-live="polite"></div>').appendTo($c);
    this.$lists = $('<div class="gc-datalists"></div>').appendTo($c);

    $tabs.on("click", "[data-gc-tab]", function (event) {
      event.preventDefault();
      self.switchTab($(this).data("gc-tab"));
    });
    this.$textarea.on("input", function () { self.fromTextarea(); });
    this.$builder.on("input change", "[data-bind]", function (event) {
      self.fromInput($(this), event.type);
    });
    this.$builder.on("focusout", ".gc-field", function () {
      self.touch($(this).attr("data-path"));
    });
    this.$builder.on("keydown", "input", function (event) {
      if (event.key === "Enter") { event.preventDefault(); } // never submit the goal form
    });
    this.$builder.on("click", "[data-action]", function (event) {
      event.preventDefault();
      self.act($(this));
    });
    this.$builder.on("keydown", ".gc-chip-input", function (event) {
      if (event.key === "Enter" || event.key === ",") {
        event.preventDefault();
        self.addChip($(this).closest(".gc-field"), $(this).val());
        $(this).val("");
      } else if (event.key === "Backspace" && !$(this).val()) {
        self.removeChip($(this).closest(".gc-field"), -1);
      }
    });
    this.$builder.on("blur", ".gc-chip-input", function () {
      if ($.trim($(this).val())) {
        self.addChip($(this).closest(".gc-field"), $(this).val());
        $(this).val("");
      }
    });
    this.$builder.on("input change", ".gc-where-row :input", function () {
      self.fromWhere($(this).closest(".gc-where"));
    });
    if (this.$form.length) {
      this.$form.on("input change", ":input", function () {
        if (self.$container.has(this).length === 0 && this.name) { self.scheduleCheck(); }
      });
    }
  };

  Builder.prototype.switchTab = function (name) {
    this.$container.find("[data-gc-tab]").each(function () {
      $(this).toggleClass("active", $(this).data("gc-tab") === name)
        .attr("aria-selected", $(this).data("gc-tab") === name ? "true" : "false");
    });
    this.$container.find("[data-gc-pane]").each(function () {
      $(this).toggleClass("d-none", $(this).data("gc-pane") !== name);
    });
    if (name === "builder") { this.render(); this.showErrors(this.errors); }
  };

  /* -- the model -------------------------------------------------------------------- */

  Builder.prototype.get = function (path) {
    var value = this.model;
    $.each(tokens(path, this.root), function (_, key) {
      value = value === undefined || value === null ? undefined : value[key];
    });
    return value;
  };

  /* Set (or, with `value` undefined, remove) what `path` names. */
  Builder.prototype.set = function (path, value) {
    var keys = tokens(path, this.root);
    if (!keys.length) { this.model = value; return; }
    var holder = this.model;
    for (var i = 0; i < keys.length - 1; i += 1) {
      if (holder[keys[i]] === undefined || holder[keys[i]] === null) {
        holder[keys[i]] = typeof keys[i + 1] === "number" ? [] : {};
      }
      holder = holder[keys[i]];
    }
    var last = keys[keys.length - 1];
    if (value === undefined) {
      if (Array.isArray(holder)) { holder.splice(last, 1); } else { delete holder[last]; }
    } else {
      holder[last] = value;
    }
  };

  /* The builder changed the model: write the JSON, check it, say it in words. */
  Builder.prototype.commit = function () {
    this.$textarea.val(JSON.stringify(this.model, null, 2));
    this.$jsonStatus.empty();
    this.summarize();
    this.refreshSuggestions();
    this.scheduleCheck();
    this.$textarea.trigger("gamify:criteria-changed");
  };

  Builder.prototype.fromTextarea = function () {
    var text = $.trim(this.$textarea.val());
    if (!text) {
      this.$jsonStatus.html('<div class="text-muted small">Empty: build the criteria in the' +
        " Builder tab, or write them here.</div>");
      return;
    }
    try {
      var data = JSON.parse(text);
      if (!data || typeof data !== "object" || Array.isArray(data)) {
        throw new Error('the criteria must be an object such as {"type": "count", ...}');
      }
      this.model = data;
      this.$jsonStatus.empty();
      this.render();
      this.scheduleCheck();
      this.$textarea.trigger("gamify:criteria-changed");
    } catch (error) {
      this.$jsonStatus.html('<div class="invalid-feedback d-block gc-json-error">Not valid JSON' +
        " yet: " + G.escapeHtml(error.message) + ". The builder shows the last valid" +
        " criteria.</div>");
    }
  };

  Builder.prototype.fromInput = function ($input, eventType) {
    var path = $input.attr("data-bind");
    var kind = $input.attr("data-kind");
    var value;
    if (kind === "window") {
      var $field = $input.closest(".gc-field");
      var amount = $.trim($field.find(".gc-window-amount").val());
      var $raw = $field.find(".gc-window-raw");
      if ($raw.length) {
        value = $.trim($raw.val()) || undefined;
      } else {
        value = amount ? amount + $field.find(".gc-window-unit").val() : undefined;
      }
    } else if (kind === "number" || kind === "integer") {
      var text = $.trim($input.val());
      value = text === "" ? undefined : (NUMBER.test(text) ? Number(text) : text);
    } else if (kind === "boolean") {
      value = $input.is(":checked");
    } else if (kind === "type") {
      if (eventType === "change") { this.switchType(path, $input.val()); }
      return;
    } else if (kind === "value-label") {
      // Keys may hold dots or brackets: the object is set whole, not by path.
      var labels = $.extend({}, this.get(path) || {});
      var key = $input.attr("data-key");
      if ($.trim($input.val())) { labels[key] = $input.val(); } else { delete labels[key]; }
      value = $.isEmptyObject(labels) ? undefined : labels;
    } else {
      value = $input.val() === "" ? undefined : $input.val();
    }
    if (eventType === "change") { this.touch(path); }
    // A change event (on blur) after input events has nothing new: writing the page again
    // while the focus moves (to the Save button, say) can shift what the click lands on.
    if (JSON.stringify(this.get(path)) === JSON.stringify(value)) { return; }
    this.set(path, value);
    this.commit();
  };

  Builder.prototype.touch = function (path) {
    if (path) { this.touched[path] = true; }
  };

  /* -- structure: type switch, children, steps -------------------------------------- */

  var CARRIED = ["event", "field", "target", "window", "where", "values", "labels", "period"];

  Builder.prototype.switchType = function (path, type) {
    var old = this.get(path) || {};
    var depth = tokens(path, this.root).filter(function (k) { return k === "of"; }).length + 1;
    var shape = this.schema.shape(type, depth);
    var fresh = {type: type};
    if (old.label !== undefined) { fresh.label = old.label; } // it names this condition
    var source = old;
    if ((old.type === "all" || old.type === "any") && Array.isArray(old.of) &&
        old.of.length && type !== "all" && type !== "any") {
      source = old.of[0]; // back to one condition: keep the first
    }
    if (type === "all" || type === "any") {
      fresh.of = old.of && (old.type === "all" || old.type === "any") ? old.of :
        [old.type ? old : {type: "count", target: 1}];
    } else if (shape) {
      $.each(CARRIED, function (_, name) {
        if (source[name] !== undefined && shape.properties[name]) { fresh[name] = source[name]; }
      });
      if (shape.properties.target && fresh.target === undefined) { fresh.target = 1; }
      if (type === "sequence") {
        fresh.steps = source.steps || [source.event ? {event: source.event} : {}];
        if (source.window && shape.properties.window) { fresh.window = source.window; }
      }
    }
    this.set(path, fresh);
    this.render();
    this.commit();
    this.$builder.find('[data-path="' + path + '"] > .card-header .gc-type').trigger("focus");
  };

  Builder.prototype.act = function ($button) {
    var action = $button.data("action");
    var path = $button.attr("data-target-path");
    var list, index;
    if (action === "add-child") {
      list = this.get(path) || [];
      list.push({type: "count", target: 1});
      this.set(path, list);
    } else if (action === "add-step") {
      list = this.get(path) || [];
      list.push({});
      this.set(path, list);
    } else if (action === "remove" || action === "up" || action === "down") {
      var listPath = parentPath(path);
      list = this.get(listPath);
      index = tokens(path, this.root).pop();
      if (action === "remove") {
        list.splice(index, 1);
      } else {
        var other = action === "up" ? index - 1 : index + 1;
        if (other < 0 || other >= list.length) { return; }
        var moved = list[index];
        list[index] = list[other];
        list[other] = moved;
      }
    } else if (action === "add-where") {
      this.addWhereRow($button.closest(".gc-where"), {});
      return;
    } else if (action === "remove-where") {
      var $where = $button.closest(".gc-where");
      $button.closest(".gc-where-row").remove();
      this.fromWhere($where);
      return;
    } else if (action === "remove-chip") {
      this.removeChip($button.closest(".gc-field"), Number($button.data("index")));
      return;
    } else if (action === "add-suggestion") {
      this.addChip($button.closest(".gc-field"), null, $button.data("value"));
      return;
    } else {
      return;
    }
    this.render();
    this.commit();
  };

  /* -- values (all_of): chips --------------------------------------------------------- */

  Builder.prototype.addChip = function ($field, text, value) {
    var path = $field.attr("data-path");
    var values = (this.get(path) || []).slice();
    if (value === undefined) {
      if (!$.trim(text)) { return; }
      value = parseValue($.trim(text), this.kindHint($field));
    }
    if (values.some(function (v) { return sameValue(v, value); })) { return; }
    values.push(value);
    this.touch(path);
    this.set(path, values);
    this.drawChips($field);
    this.commit();
  };

  Builder.prototype.removeChip = function ($field, index) {
    var path = $field.attr("data-path");
    var values = (this.get(path) || []).slice();
    if (!values.length) { return; }
    var removed = values.splice(index < 0 ? values.length - 1 : index, 1);
    this.set(path, values.length ? values : []);
    var labelsPath = child(parentPath(path), "labels");
    var labels = this.get(labelsPath);
    if (removed.length && labels && typeof labels === "object") {
      delete labels[labelKey(removed[0])]; // the server refuses labels of unlisted values
      this.set(labelsPath, $.isEmptyObject(labels) ? undefined : labels);
    }
    this.drawChips($field);
    this.commit();
  };

  Builder.prototype.drawChips = function ($field) {
    var values = this.get($field.attr("data-path")) || [];
    var $box = $field.find(".gc-chips");
    $box.find(".gc-chip").remove();
    var $input = $box.find(".gc-chip-input");
    $.each(Array.isArray(values) ? values : [], function (index, value) {
      $('<span class="gc-chip"></span>')
        .attr("title", kindOf(value) === "string" ? "text" : kindOf(value))
        .toggleClass("gc-chip-number", typeof value === "number")
        .text(showValue(value))
        .append($('<button type="button" class="gc-chip-remove" data-action="remove-chip">' +
          "&times;</button>").attr({"data-index": index,
                                   "aria-label": "Remove " + showValue(value)}))
        .insertBefore($input);
    });
    var $labels = $field.closest(".form-row").children(".gc-value-labels");
    if ($labels.length) { this.drawValueLabels($labels); }
    this.refreshSuggestions();
  };

  /* One optional label input per listed value of an all_of. */
  Builder.prototype.drawValueLabels = function ($field) {
    var path = $field.attr("data-path");
    var values = this.get(child(parentPath(path), "values"));
    var labels = this.get(path) || {};
    var $rows = $field.find(".gc-value-label-rows").empty();
    values = Array.isArray(values) ? values : [];
    $field.toggleClass("d-none", values.length === 0);
    $.each(values, function (_, value) {
      var key = labelKey(value);
      var id = newId("vl");
      $rows.append($('<div class="input-group input-group-sm gc-value-label"></div>')
        .attr("data-path", child(path, key))
        .append($('<div class="input-group-prepend"></div>').append(
          $('<label class="input-group-text gc-value-label-key"></label>').attr("for", id)
            .text(showValue(value))))
        .append($('<input type="text" class="form-control" autocomplete="off"' +
          ' data-kind="value-label">').attr({id: id, "data-bind": path, "data-key": key,
                                             placeholder: "shown as " + showValue(value)})
          .val(typeof labels[key] === "string" ? labels[key] : "")));
    });
  };

  /* What kind of value an attribute holds, from the event log's examples. */
  Builder.prototype.kindHint = function ($field) {
    var node = this.get($field.closest(".gc-node").attr("data-path")) || {};
    var attribute = $field.attr("data-attribute") || node.field;
    var examples = this.examples(node.event, attribute);
    return examples.length ? kindOf(examples[0]) : null;
  };

  /* -- where filters -------------------------------------------------------------- */

  Builder.prototype.addWhereRow = function ($where, row) {
    var self = this;
    var $row = $('<div class="gc-where-row form-row align-items-start"></div>');
    var attributeId = newId("attr");
    var $attribute = $('<input type="text" class="form-control form-control-sm gc-where-attribute"' +
      ' placeholder="attribute, e.g. category" autocomplete="off">').attr("id", attributeId)
      .attr("aria-label", "Attribute").val(row.attribute || "");
    var $operator = $('<select class="custom-select custom-select-sm gc-where-operator"' +
      ' aria-label="Comparison"></select>');
    $.each(this.schema.operators(), function (_, op) {
      $operator.append($("<option></option>").val(op).text(OPERATOR_WORDS[op] || op));
    });
    $operator.val(row.operator || "eq");
    var $value = $('<input type="text" class="form-control form-control-sm gc-where-value"' +
      ' autocomplete="off" aria-label="Value">').val(row.text || "")
      .attr("data-kind", row.kind || "")
      .attr("placeholder", (row.operator || "eq") === "in" ? "values, separated by commas" : "value");
    $row.append($('<div class="col-12 col-sm-4 mb-1"></div>').append($attribute))
      .append($('<div class="col-12 col-sm-3 mb-1"></div>').append($operator))
      .append($('<div class="col mb-1"></div>').append($value))
      .append('<div class="col-auto mb-1"><button type="button" class="btn btn-sm' +
        ' btn-outline-secondary" data-action="remove-where" aria-label="Remove this condition"' +
        ' title="Remove this condition">&times;</button></div>');
    $operator.on("change", function () {
      $value.attr("placeholder", $(this).val() === "in" ? "values, separated by commas" : "value");
    });
    $where.find(".gc-where-rows").append($row);
    self.refreshSuggestions();
    if (!row.attribute) { $attribute.trigger("focus"); }
    return $row;
  };

  Builder.prototype.fromWhere = function ($where) {
    var self = this;
    var path = $where.attr("data-path");
    var node = this.get(parentPath(path)) || {};
    var where = {};
    var operators = {};
    $where.find(".gc-where-row").each(function () {
      var $row = $(this);
      var attribute = $.trim($row.find(".gc-where-attribute").val());
      $row.attr("data-path", attribute ? child(path, attribute) : null);
      if (!attribute) { return; }
      var operator = $row.find(".gc-where-operator").val();
      var $value = $row.find(".gc-where-value");
      var text = $value.val();
      var examples = self.examples(node.event, attribute);
      var kind = examples.length ? kindOf(examples[0]) : ($value.attr("data-kind") || null);
      var value;
      if (operator === "in") {
        value = $.map(text.split(","), function (part) {
          return $.trim(part) === "" ? null : [parseValue($.trim(part), kind)];
        });
      } else {
        value = parseValue(text, kind);
      }
      (operators[attribute] = operators[attribute] || []).push([operator, value]);
    });
    $.each(operators, function (attribute, list) {
      var plain = list.length === 1 && list[0][0] === "eq" && kindOf(list[0][1]) !== "json";
      if (plain) {
        where[attribute] = list[0][1];
      } else {
        where[attribute] = {};
        $.each(list, function (_, pair) { where[attribute][pair[0]] = pair[1]; });
      }
    });
    this.touch(path);
    this.set(path, $.isEmptyObject(where) ? undefined : where);
    this.commit();
  };

  /* Rows of a `where` object: one per attribute and operator. */
  function whereRows(where) {
    var rows = [];
    if (!where || typeof where !== "object" || Array.isArray(where)) { return rows; }
    $.each(where, function (attribute, condition) {
      if (condition && typeof condition === "object" && !Array.isArray(condition)) {
        $.each(condition, function (operator, operand) {
          var isList = operator === "in" && Array.isArray(operand);
          rows.push({
            attribute: attribute,
            operator: operator,
            text: isList ? operand.map(showValue).join(", ") : showValue(operand),
            kind: isList ? (operand.length ? kindOf(operand[0]) : "") : kindOf(operand)
          });
        });
      } else {
        rows.push({attribute: attribute, operator: "eq", text: showValue(condition),
                   kind: kindOf(condition)});
      }
    });
    return rows;
  }

  /* -- rendering -------------------------------------------------------------------- */

  Builder.prototype.render = function () {
    if (!this.schema) { return; }
    this.$builder.empty().append(this.renderNode(this.model, this.root, 1, null));
    this.summarize();
    this.refreshSuggestions();
  };

  Builder.prototype.renderNode = function (node, path, depth, siblings) {
    var self = this;
    node = node && typeof node === "object" ? node : {};
    var composite = node.type === "all" || node.type === "any";
    var $card = $('<div class="card gc-node"></div>').attr("data-path", path)
      .addClass(composite ? "gc-composite" : "gc-leaf");
    var $head = $('<div class="card-header gc-node-head"></div>').appendTo($card);
    var $body = $('<div class="card-body gc-node-body"></div>').appendTo($card);
    if (siblings) {
      var index = tokens(path, this.root).pop();
      $head.append($('<span class="gc-node-number"></span>').text(index + 1 + "."));
    }
    var typeId = newId("type");
    var $type = $('<select class="custom-select custom-select-sm gc-type" data-kind="type"></select>')
      .attr({id: typeId, "data-bind": path, "aria-label": "Kind of condition"});
    $.each(this.schema.types(depth), function (_, type) {
      var wording = TYPE_WORDS[type];
      $type.append($("<option></option>").val(type)
        .text(wording ? wording[0] + " (e.g. " + wording[1] + ")" : type));
    });
    if (node.type && this.schema.types(depth).indexOf(node.type) < 0) {
      $type.append($("<option></option>").val(node.type).text("Unknown kind: " + node.type));
    }
    $type.val(node.type);
    $head.append($type);
    if (siblings) {
      var n = siblings.length;
      var $tools = $('<div class="btn-group btn-group-sm gc-node-tools" role="group"></div>');
      $.each([["up", "&uarr;", "Move up", index === 0], ["down", "&darr;", "Move down", index === n - 1],
              ["remove", "&times;", "Remove this condition", false]], function (_, tool) {
        $tools.append($('<button type="button" class="btn btn-outline-secondary"></button>')
          .attr({"data-action": tool[0], "data-target-path": path, title: tool[2],
                 "aria-label": tool[2]}).prop("disabled", tool[3]).html(tool[1]));
      });
      $head.append($tools);
    }
    $body.append('<div class="gc-node-errors"></div>');
    var shape = node.type ? this.schema.shape(node.type, depth) : null;
    if (!shape) {
      $body.append('<p class="text-muted small mb-0">Pick what someone must do.</p>');
      return $card;
    }
    var names = Object.keys(shape.properties).filter(function (name) { return name !== "type"; });
    names.sort(function (a, b) {
      var ia = FIELD_ORDER.indexOf(a), ib = FIELD_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    var $row = $('<div class="form-row"></div>');
    $.each(names, function (_, name) {
      var property = self.schema.resolve(shape.properties[name]);
      var required = (shape.required || []).indexOf(name) >= 0;
      var $field = self.renderField(node, path, depth, name, property, required);
      if ($field) { $row.append($field); }
    });
    $body.append($row);
    return $card;
  };

  Builder.prototype.fieldBox = function (path, label, required, wide, help) {
    var id = newId("f");
    var $field = $('<div class="form-group gc-field"></div>').attr("data-path", path)
      .addClass(wide ? "col-12" : "col-12 col-md-6");
    if (label) {
      $field.append($('<label class="gc-label"></label>').attr("for", id).text(label)
        .append(required ? "" : ' <span class="gc-optional">(optional)</span>'));
    }
    $field.data("input-id", id);
    if (help) { $field.data("help", help); }
    return $field;
  };

  Builder.prototype.finishField = function ($field) {
    var help = $field.data("help");
    if (help) { $field.append($('<small class="form-text text-muted"></small>').text(help)); }
    return $field;
  };

  Builder.prototype.renderField = function (node, path, depth, name, property, required) {
    var self = this;
    var fieldPath = child(path, name);
    var value = node[name];
    var type = node.type;
    var label = fieldLabel(type, name);
    var help = fieldHelp(type, name);
    var $field, id;

    if (name === "of") {
      $field = $('<div class="col-12 gc-children gc-field"></div>').attr("data-path", fieldPath);
      $field.append($('<p class="gc-children-intro"></p>').text(type === "all" ?
        "Complete when ALL of these are done:" : "Complete when ANY ONE of these is done:"));
      var list = Array.isArray(value) ? value : [];
      $.each(list, function (index, childNode) {
        $field.append(self.renderNode(childNode, child(fieldPath, index), depth + 1, list));
      });
      var most = property.maxItems || 100;
      $field.append($('<button type="button" class="btn btn-outline-primary btn-sm gc-add"' +
        ' data-action="add-child">+ Add a condition</button>').attr("data-target-path", fieldPath)
        .prop("disabled", list.length >= most));
      return $field;
    }
    if (name === "steps") {
      $field = $('<div class="col-12 gc-steps gc-field"></div>').attr("data-path", fieldPath);
      $field.append($('<label class="gc-label"></label>').text(label));
      var steps = Array.isArray(value) ? value : [];
      $.each(steps, function (index, step) {
        $field.append(self.renderStep(step || {}, child(fieldPath, index), steps));
      });
      var stepShape = self.schema.resolve(property.items);
      $field.append($('<button type="button" class="btn btn-outline-primary btn-sm gc-add"' +
        ' data-action="add-step">+ Add a step</button>').attr("data-target-path", fieldPath)
        .prop("disabled", steps.length >= (property.maxItems || 100)));
      $field.data("step-shape", stepShape);
      return $field;
    }
    if (name === "where") {
      return this.renderWhere(value, fieldPath, label, help);
    }

    if (name === "labels") {
      $field = this.fieldBox(fieldPath, label, false, true, help).addClass("gc-value-labels");
      $field.append('<div class="gc-value-label-rows"></div>');
      this.finishField($field);
      this.drawValueLabels($field);
      return $field;
    }

    $field = this.fieldBox(fieldPath, label, required, name === "values" || name === "label",
                           help);
    id = $field.data("input-id");
    if (name === "values") {
      var $chips = $('<div class="form-control gc-chips"></div>');
      $chips.append($('<input type="text" class="gc-chip-input" autocomplete="off"' +
        ' placeholder="Type a value, press Enter">').attr("id", id));
      $field.append($chips).append('<div class="gc-suggest"></div>');
      this.finishField($field);
      this.drawChips($field);
      return $field;
    }
    if (name === "window") {
      var match = /^([1-9]\d*)([smhdw])$/.exec(value || "");
      var $group = $('<div class="input-group input-group-sm gc-window"></div>');
      if (value && !match) {
        $group.append($('<input type="text" class="form-control gc-window-raw" data-kind="window">')
          .attr({id: id, "data-bind": fieldPath}).val(value));
      } else {
        $group.append($('<input type="number" step="1" inputmode="numeric"' +
          ' class="form-control gc-window-amount" data-kind="window" placeholder="any time">')
          .attr({id: id, "data-bind": fieldPath}).val(match ? match[1] : ""));
        var $unit = $('<select class="custom-select custom-select-sm gc-window-unit" data-kind="window"' +
          ' aria-label="Unit"></select>').attr("data-bind", fieldPath);
        $.each(UNITS, function (_, unit) {
          $unit.append($("<option></option>").val(unit[0]).text(unit[1]));
        });
        $unit.val(match ? match[2] : "h");
        $group.append($('<div class="input-group-append"></div>').append($unit));
      }
      $field.append($group);
      return this.finishField($field);
    }
    if (property["enum"]) {
      var $select = $('<select class="custom-select custom-select-sm" data-kind="enum"></select>')
        .attr({id: id, "data-bind": fieldPath});
      $.each(property["enum"], function (_, option) {
        $select.append($("<option></option>").val(option)
          .text(name === "period" ? (PERIOD_WORDS[option] || option) : option));
      });
      $select.val(value !== undefined ? value : property["default"]);
      $field.append($select);
      return this.finishField($field);
    }
    if (property.type === "integer" || property.type === "number") {
      $field.append($('<input type="number" step="any" class="form-control form-control-sm">')
        .attr({id: id, "data-bind": fieldPath, "data-kind": property.type,
               inputmode: property.type === "integer" ? "numeric" : "decimal"})
        .val(value === undefined ? "" : value));
      $field.data("help", help || this.schema.describeNumber(property));
      return this.finishField($field);
    }
    if (property.type === "boolean") {
      $field.append($('<input type="checkbox" data-kind="boolean">')
        .attr({id: id, "data-bind": fieldPath}).prop("checked", value === true));
      return this.finishField($field);
    }
    var placeholder = {event: "e.g. article.read", field: "e.g. article_id",
                       goal: "the goal's key",
                       label: "shown in progress instead of the automatic text"}[name] || "";
    $field.append($('<input type="text" class="form-control form-control-sm" autocomplete="off"' +
      ' data-kind="string">').attr({id: id, "data-bind": fieldPath, placeholder: placeholder,
                                    "data-suggest": name}).val(value === undefined ? "" : value));
    return this.finishField($field);
  };

  Builder.prototype.renderWhere = function (where, path, label, help) {
    var self = this;
    var $field = $('<div class="col-12 gc-where gc-field"></div>').attr("data-path", path);
    $field.append($('<div class="gc-label"></div>').text(label)
      .append(' <span class="gc-optional">(optional)</span>'));
    $field.append('<div class="gc-where-rows"></div>');
    $.each(whereRows(where), function (_, row) {
      self.addWhereRow($field, row).attr("data-path", child(path, row.attribute));
    });
    $field.append($('<button type="button" class="btn btn-link btn-sm gc-add-where px-0"' +
      ' data-action="add-where">+ Only when an attribute&hellip;</button>'));
    if (help) { $field.append($('<small class="form-text text-muted"></small>').text(help)); }
    return $field;
  };

  Builder.prototype.renderStep = function (step, path, steps) {
    var index = tokens(path, this.root).pop();
    var $step = $('<div class="gc-step gc-node card"></div>').attr("data-path", path);
    var $head = $('<div class="card-header gc-node-head"></div>').appendTo($step);
    $head.append($('<span class="gc-node-number"></span>').text("Step " + (index + 1)));
    var $tools = $('<div class="btn-group btn-group-sm gc-node-tools" role="group"></div>');
    $.each([["up", "&uarr;", "Move up", index === 0],
            ["down", "&darr;", "Move down", index === steps.length - 1],
            ["remove", "&times;", "Remove this step", steps.length === 1]], function (_, tool) {
      $tools.append($('<button type="button" class="btn btn-outline-secondary"></button>')
        .attr({"data-action": tool[0], "data-target-path": path, title: tool[2],
               "aria-label": tool[2]}).prop("disabled", tool[3]).html(tool[1]));
    });
    $head.append($tools);
    var $body = $('<div class="card-body gc-node-body"></div>').appendTo($step);
    $body.append('<div class="gc-node-errors"></div>');
    var $row = $('<div class="form-row"></div>').appendTo($body);
    var eventPath = child(path, "event");
    var $event = this.fieldBox(eventPath, "Event", true, false, "");
    $event.append($('<input type="text" class="form-control form-control-sm" autocomplete="off"' +
      ' data-kind="string" data-suggest="event" placeholder="e.g. checkout">')
      .attr({id: $event.data("input-id"), "data-bind": eventPath}).val(step.event || ""));
    $row.append($event);
    var labelPath = child(path, "label");
    var $label = this.fieldBox(labelPath, "Label people see", false, false, "");
    $label.append($('<input type="text" class="form-control form-control-sm" autocomplete="off"' +
      ' data-kind="string" placeholder="e.g. Check out">')
      .attr({id: $label.data("input-id"), "data-bind": labelPath}).val(step.label || ""));
    $row.append($label);
    $row.append(this.renderWhere(step.where, child(path, "where"), "Only when", ""));
    return $step;
  };

  /* -- suggestions from the event log ------------------------------------------------- */

  Builder.prototype.eventInfo = function (type) {
    var found = null;
    $.each(this.vocabulary.events || [], function (_, event) {
      if (event.type === type) { found = event; return false; }
      return true;
    });
    return found;
  };

  Builder.prototype.examples = function (type, attribute) {
    var info = this.eventInfo(type);
    return info && attribute && info.attributes[attribute] ? info.attributes[attribute] : [];
  };

  Builder.prototype.datalist = function (key, options) {
    var id = this.datalists[key];
    if (!id) {
      id = this.datalists[key] = newId("list");
      this.$lists.append($("<datalist></datalist>").attr("id", id));
    }
    var $list = $("#" + id).empty();
    $.each(options, function (_, option) {
      $list.append($("<option></option>").attr("value", option[0]).text(option[1] || ""));
    });
    return id;
  };

  Builder.prototype.refreshSuggestions = function () {
    var self = this;
    var vocabulary = this.vocabulary;
    var events = this.datalist("events", $.map(vocabulary.events || [], function (event) {
      return [[event.type, event.count + " recent events"]];
    }));
    var goals = this.datalist("goals", $.map(vocabulary.goals || [], function (goal) {
      return [[goal.key, goal.name + (goal.status === "draft" ? " (draft)" : "")]];
    }));
    this.$builder.find('[data-suggest="event"]').attr("list", events);
    this.$builder.find('[data-suggest="goal"]').attr("list", goals);
    this.$builder.find(".gc-node").each(function () {
      var $node = $(this);
      var node = self.get($node.attr("data-path")) || {};
      var info = self.eventInfo(node.event);
      var attributes = info ? Object.keys(info.attributes) : [];
      var attributeList = self.datalist("attributes:" + (node.event || ""),
        $.map(attributes, function (name) { return [[name, ""]]; }));
      $node.find('> .card-body > .form-row > .gc-field [data-suggest="field"],' +
        " > .card-body > .form-row > .gc-where .gc-where-attribute").attr("list", attributeList);
      $node.find("> .card-body > .form-row > .gc-where .gc-where-row").each(function () {
        var attribute = $.trim($(this).find(".gc-where-attribute").val());
        var examples = self.examples(node.event, attribute);
        $(this).find(".gc-where-value").attr("list", self.datalist(
          "values:" + node.event + ":" + attribute,
          $.map(examples, function (value) { return [[showValue(value), ""]]; })));
      });
      var $values = $node.find('> .card-body > .form-row > .gc-field[data-path$=".values"]');
      if ($values.length) {
        var chosen = node.values || [];
        var offered = self.examples(node.event, node.field).filter(function (value) {
          return !chosen.some(function (v) { return sameValue(v, value); });
        });
        var $suggest = $values.find(".gc-suggest");
        // Rebuild only on change: a click must land on the button it was aimed at.
        var offeredKey = JSON.stringify(offered);
        if ($suggest.data("offered") === offeredKey) { return; }
        $suggest.data("offered", offeredKey).empty();
        if (offered.length) {
          $suggest.append('<span class="gc-suggest-label">Seen in the event log:</span> ');
          $.each(offered, function (_, value) {
            $suggest.append($('<button type="button" class="btn btn-sm btn-outline-secondary' +
              ' gc-suggestion" data-action="add-suggestion"></button>')
              .attr("aria-label", "Add " + showValue(value))
              .data("value", value).text("+ " + showValue(value)));
          });
        }
      }
    });
  };

  /* -- the server's checks --------------------------------------------------------------- */

  /* The goal options of the form around the builder, as JSON values. */
  function formOptions($form, names) {
    var options = {};
    $.each(names, function (_, name) {
      var $input = $form.find('[name="' + name + '"]').first();
      if (!$input.length) { return; }
      if ($input.is(":checkbox")) {
        options[name] = $input.is(":checked");
        return;
      }
      var text = $.trim($input.val() || "");
      if (text === "") { return; }
      options[name] = name === "max_awards" || name === "points" ?
        (NUMBER.test(text) ? Number(text) : text) : text;
    });
    if (options.repeatable === false) { delete options.max_awards; }
    return options;
  }

  var CHECKED_OPTIONS = ["key", "entity_type", "points", "repeatable", "max_awards",
                         "starts_at", "ends_at"];

  Builder.prototype.scheduleCheck = function () {
    var self = this;
    if (!this.urls.validate) { return; }
    window.clearTimeout(this.timer);
    this.sequence += 1; // answers to earlier checks are out of date now
    this.$status.removeClass("text-success text-danger").addClass("text-muted")
      .text("Checking…");
    this.timer = window.setTimeout(function () { self.check(); }, DEBOUNCE_MS);
  };

  Builder.prototype.check = function () {
    var self = this;
    var ticket = ++this.sequence;
    var criteria = this.readTextarea();
    if (!criteria) {
      this.$status.text("");
      return;
    }
    G.send(this.urls.validate, {criteria: criteria, goal: formOptions(this.$form, CHECKED_OPTIONS)})
      .then(function (answer) {
        if (ticket !== self.sequence) { return; } // a newer check is on its way
        if (!answer.ok) {
          self.$status.removeClass("text-muted").addClass("text-danger")
            .text((answer.data && answer.data.message) || "The criteria could not be checked.");
          return;
        }
        self.errors = answer.data.fields || {};
        self.showErrors(self.errors);
      })
      .catch(function () {
        if (ticket === self.sequence) { self.$status.text("Could not reach the server to check."); }
      });
  };

  /* The element showing errors of `path`: its own, or its closest ancestor's. */
  Builder.prototype.placeFor = function (path) {
    var current = path;
    while (current) {
      var $place = this.$builder.find('[data-path="' + current.replace(/"/g, '\\"') + '"]').first();
      if ($place.length) { return $place; }
      current = parentPath(current);
    }
    return null;
  };

  Builder.prototype.showErrors = function (fields) {
    var self = this;
    fields = fields || {};
    this.$builder.find(".gc-error").remove();
    this.$builder.find(".is-invalid").removeClass("is-invalid");
    this.$form.find(".gc-option-error").remove();
    this.$form.find(".gc-option-invalid").removeClass("is-invalid gc-option-invalid");
    var count = 0;
    var listed = [];
    $.each(fields, function (path, messages) {
      count += messages.length;
      listed.push([path, messages]);
      if (path !== self.root && path.indexOf(self.root + ".") !== 0 &&
          path.indexOf(self.root + "[") !== 0) {
        self.showOptionError(path, messages);
        return;
      }
      var $place = self.placeFor(path);
      if (!$place) { return; }
      var silent = $place.hasClass("gc-field") && !self.showAll && !self.touched[path] &&
        !self.touched[$place.attr("data-path")] && !self.hasValue($place);
      if (silent) { count -= messages.length; return; }
      var text = messages.join(" ");
      if ($place.attr("data-path") !== path) {
        text = path.slice($place.attr("data-path").length).replace(/^\./, "") + ": " + text;
      }
      var $error = $('<div class="invalid-feedback d-block gc-error"></div>').text(text);
      if ($place.hasClass("gc-node")) {
        $place.find("> .card-body > .gc-node-errors").append($error);
      } else if ($place.hasClass("gc-where-row")) {
        $place.find(":input").addClass("is-invalid");
        $place.append($('<div class="col-12"></div>').append($error));
      } else {
        $place.find("> :input, > .input-group > :input, > .gc-chips, > .input-group > .input-group-append > select")
          .addClass("is-invalid");
        var $help = $place.children(".form-text").first();
        if ($help.length) { $error.insertBefore($help); } else { $place.append($error); }
      }
    });
    this.$container.find(".gc-problems").toggleClass("d-none", count === 0)
      .text(count === 1 ? "1 problem" : count + " problems");
    this.$jsonStatus.find(".gc-json-errors").remove();
    if (listed.length) {
      var $list = $('<ul class="gc-json-errors invalid-feedback d-block"></ul>');
      $.each(listed, function (_, item) {
        $list.append($("<li></li>").text(item[0] + ": " + item[1].join(" ")));
      });
      this.$jsonStatus.append($list);
    }
    if (count === 0 && listed.length === 0) {
      this.$status.removeClass("text-muted text-danger").addClass("text-success")
        .text("✓ The server accepts these criteria.");
    } else if (count === 0) {
      this.$status.removeClass("text-success text-danger").addClass("text-muted")
        .text("Fill in the empty fields.");
    } else {
      this.$status.removeClass("text-success text-muted").addClass("text-danger")
        .text("The server found " + (count === 1 ? "a problem" : count + " problems") +
              "; see the fields marked in red.");
    }
  };

  Builder.prototype.hasValue = function ($place) {
    var filled = false;
    $place.find(":input").not("select, button").each(function () {
      if ($.trim($(this).val())) { filled = true; }
    });
    return filled || $place.find(".gc-chip").length > 0;
  };

  Builder.prototype.showOptionError = function (path, messages) {
    var name = path.split(/[.[]/)[0];
    var $input = this.$form.find('[name="' + name + '"]').first();
    if (!$input.length) { return; }
    $input.addClass("is-invalid gc-option-invalid");
    var $error = $('<div class="invalid-feedback d-block gc-option-error"></div>')
      .text(messages.join(" "));
    $input.closest(".form-group").append($error);
  };

  /* -- in words ----------------------------------------------------------------------- */

  function quoted(text) { return text ? "“" + text + "”" : "…"; }

  function describeWhere(where) {
    var parts = $.map(whereRows(where), function (row) {
      return [row.attribute + " " + (OPERATOR_WORDS[row.operator] || row.operator) + " " +
              (row.text || "…")];
    });
    return parts.length ? " (only when " + words(parts) + ")" : "";
  }

  function describeWindow(window) {
    var match = /^(\d+)([smhdw])$/.exec(window || "");
    if (!match) { return window ? " within " + window : ""; }
    var unit = {s: "second", m: "minute", h: "hour", d: "day", w: "week"}[match[2]];
    return " within " + match[1] + " " + unit + (match[1] === "1" ? "" : "s");
  }

  function times(n) { return n === 1 ? "once" : (n === undefined ? "…" : n) + " times"; }

  function describe(node) {
    if (!node || typeof node !== "object") { return "…"; }
    if (typeof node.label === "string" && $.trim(node.label) && node.type !== "all" &&
        node.type !== "any") {
      return quoted($.trim(node.label));
    }
    var event = quoted(node.event);
    var where = describeWhere(node.where);
    switch (node.type) {
      case "count":
        return event + " happens " + times(node.target) + describeWindow(node.window) + where;
      case "sum":
        return "the " + quoted(node.field) + " of " + event + " events adds up to " +
          (node.target === undefined ? "…" : node.target) + describeWindow(node.window) + where;
      case "distinct":
        return event + " happens for " + (node.target === undefined ? "…" : node.target) +
          " different " + quoted(node.field) + " values" + where;
      case "all_of":
        return event + " happens for each " + quoted(node.field) + " of " +
          (Array.isArray(node.values) && node.values.length ?
            words(node.values.map(function (value) {
              var labels = node.labels && typeof node.labels === "object" ? node.labels : {};
              var label = labels[labelKey(value)];
              return typeof label === "string" && $.trim(label) ? quoted($.trim(label)) :
                showValue(value);
            })) : "…") + where;
      case "streak":
        return event + " happens " + (node.target === undefined ? "…" : node.target) + " " +
          (node.period === "week" ? "weeks" : "days") + " in a row" + where;
      case "sequence":
        return $.map(node.steps || [], function (step) {
          return [quoted(step && step.event) + describeWhere(step && step.where)];
        }).join(", then ") + ", in that order" + describeWindow(node.window);
      case "all":
      case "any":
        var children = $.map(node.of || [], function (childNode, i) {
          return ["(" + (i + 1) + ") " + describe(childNode)];
        });
        return (node.type === "all" ? "all of: " : "any one of: ") + children.join("; ");
      case "goal":
        return "the goal " + quoted(node.goal) + " is completed";
      default:
        return "…";
    }
  }

  Builder.prototype.summarize = function () {
    this.$summary.empty().append('<span class="gc-summary-label">In words:</span> ')
      .append($("<span></span>").text("Complete when " + describe(this.model) + "."));
  };

  /* -- start ------------------------------------------------------------------------ */

  var builders = [];

  function enhance() {
    $('[data-role="gamify-criteria"]').not(".gc-ready").each(function () {
      var builder = new Builder($(this));
      builders.push(builder);
      builder.start();
    });
  }

  window.GamifyCriteria = {
    /* Show fields in error (from a preview, for example) in every builder. */
    showErrors: function (fields) {
      $.each(builders, function (_, builder) {
        builder.showAll = true;
        builder.errors = fields;
        builder.showErrors(fields);
      });
    },
    formOptions: formOptions,
    describe: describe,
    builders: builders
  };

  $(enhance);
})(window.jQuery);
