"""The error body of every API error response, and the statuses documented on every route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """``detail`` is a message (or FastAPI's list of parameter errors); ``error`` the VIQ error class."""

    model_config = ConfigDict(extra="allow")
    detail: str | list[Any] = Field(description="What went wrong.")
    error: str | None = Field(default=None, description="Error class, e.g. ProductNotFound, InvalidJobOrder.")


def _doc(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _doc("Missing, malformed, unknown or revoked API token."),
    403: _doc("Role too low, missing/wrong CSRF token, cross-origin write, or a file outside the data roots."),
    404: _doc("Unknown product, job, GIPP, processor, or nothing to render."),
    409: _doc("Refused by the state of the store: promotion without evidence, terminal job, concurrent change."),
    413: _doc("Request body over the upload limit."),
    422: _doc("Invalid parameter, filter or job order (with exit code, line and field for job orders)."),
}
