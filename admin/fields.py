"""Form fields of the goal editor (to be completed: the criteria builder's field)."""

from __future__ import annotations

import json
from typing import Any

from wtforms import TextAreaField

__all__ = ["CriteriaField"]


class CriteriaField(TextAreaField):  # type: ignore[misc]
    """Criteria as a JSON object; the criteria builder enhances its textarea."""

    def _value(self) -> str:
        if isinstance(self.data, dict):
            return json.dumps(self.data, indent=2, ensure_ascii=False)
        return str(self.data or "")

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        try:
            self.data = json.loads(valuelist[0])
        except ValueError as error:
            self.data = None
            raise ValueError(f"Criteria must be JSON: {error}.") from error
