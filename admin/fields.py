"""Form fields of the goal editor: the criteria, edited as JSON or with the visual builder.

:class:`CriteriaField` holds criteria as a ``dict``. Its widget renders the raw-JSON
textarea, which the form submits and which stays the source of truth, inside a
container marked ``data-role="gamify-criteria"``: ``criteria-builder.js`` finds it and
adds the visual builder beside the textarea, reading the URLs of the editor's endpoints
(validation, vocabulary, schema) from its ``data-*`` attributes. Without JavaScript the
textarea alone works.
"""

from __future__ import annotations

import json
from typing import Any

from flask import url_for
from markupsafe import Markup, escape
from werkzeug.routing import BuildError
from wtforms import Field
from wtforms.validators import ValidationError

from flask_gamify.criteria import validate_criteria
from flask_gamify.errors import CriteriaError

__all__ = ["CriteriaField", "CriteriaWidget"]

#: ``data-*`` attribute -> the endpoint (of the view rendering the form) it points to.
ENDPOINTS = {
    "validate-url": ".criteria_validate",
    "vocabulary-url": ".criteria_vocabulary",
    "schema-url": ".criteria_schema",
    "preview-url": ".preview",
}


def _url(endpoint: str) -> str | None:
    """The URL of ``endpoint``, or ``None`` where the rendering view does not have it."""
    try:
        return url_for(endpoint)
    except (BuildError, RuntimeError):
        return None


class CriteriaWidget:
    """The criteria textarea in the container the criteria builder enhances."""

    def __call__(self, field: CriteriaField, **kwargs: Any) -> Markup:
        classes = str(kwargs.pop("class", "") or kwargs.pop("class_", "") or "form-control")
        invalid = "is-invalid" in classes.split()
        textarea_attributes = {
            "id": field.id,
            "name": field.name,
            "class": f"{classes} gamify-criteria-json",
            "rows": kwargs.pop("rows", 14),
            "spellcheck": "false",
            "autocomplete": "off",
            "aria-describedby": f"{field.id}-help",
            **kwargs,
        }
        container: dict[str, Any] = {
            "class": "gamify-criteria" + (" is-invalid" if invalid else ""),
            "data-role": "gamify-criteria",
            "data-field": field.name,
            "data-errors": json.dumps(field.path_errors),
        }
        for attribute, endpoint in ENDPOINTS.items():
            url = _url(endpoint)
            if url is not None:
                container[f"data-{attribute}"] = url
        return Markup(
            "<div {container}><textarea {textarea}>{value}</textarea>"
            '<small id="{id}-help" class="form-text text-muted gamify-criteria-help">'
            "The criteria as JSON (see the criteria reference). The builder writes them"
            " here; edit either one.</small></div>"
        ).format(
            container=_attributes(container),
            textarea=_attributes(textarea_attributes),
            value=escape(field._value()),
            id=escape(field.id),
        )


def _attributes(attributes: dict[str, Any]) -> Markup:
    return Markup(" ").join(
        Markup('{}="{}"').format(name, value)
        for name, value in attributes.items()
        if value is not None and value is not False
    )


class CriteriaField(Field):  # type: ignore[misc]
    """Goal criteria: a JSON object in the form, a ``dict`` in ``data``.

    Bad input becomes form errors, never an exception: text that is not JSON, JSON that
    is not an object, and criteria the server refuses (each message starts with the
    path of the field it is about, such as ``criteria.of[1].target``).
    """

    widget = CriteriaWidget()

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        #: The text the user sent, kept to show it again when it is not valid JSON.
        self.raw: str | None = None
        #: ``{"criteria.target": [messages]}`` of the last validation (for the builder).
        self.path_errors: dict[str, list[str]] = {}

    def _value(self) -> str:
        if self.raw is not None:
            return self.raw
        if isinstance(self.data, dict):
            return json.dumps(self.data, indent=2, ensure_ascii=False)
        return ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        self.raw = str(valuelist[0])
        self.data = None
        if not self.raw.strip():
            return  # pre_validate says they are required
        try:
            data = json.loads(self.raw)
        except ValueError as error:
            reason = getattr(error, "msg", str(error))
            where = (
                f" (line {error.lineno}, column {error.colno})"
                if isinstance(error, json.JSONDecodeError)
                else ""
            )
            raise ValueError(
                f"The criteria are not valid JSON{where}: {reason}. Correct the text in the"
                " JSON tab, or build the criteria with the builder."
            ) from error
        if not isinstance(data, dict):
            raise ValueError(
                'The criteria must be a JSON object with a "type", such as {"type": "count",'
                ' "event": "login", "target": 3}.'
            )
        self.data = data

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:
            return  # the JSON could not be read; that message says it all
        if not isinstance(self.data, dict):
            raise ValidationError(
                "Criteria are required: build them with the builder, or write them as JSON."
            )
        try:
            validate_criteria(self.data)
        except CriteriaError as error:
            self.path_errors = error.errors
            for path, messages in error.errors.items():
                self.errors.extend(f"{path}: {message}" for message in messages)
