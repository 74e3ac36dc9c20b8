"""Checking the fields of create, remix and extension requests.

Every failure is a 400 invalid_request_error naming the field, as Poe answers.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any

from PIL import Image, UnidentifiedImageError

from videostudio.simulator import catalog
from videostudio.simulator.web import ApiError

_ERROR_MARKER = re.compile(r"\[error:(\d{3})\]", re.IGNORECASE)
_RENDER_MARKER = re.compile(r"\[render:(\d+(?:\.\d*)?|\.\d+)\]", re.IGNORECASE)
FAIL_MARKER = "[fail]"
SLOW_MARKER = "[slow]"
_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_MARKER_MESSAGES = {
    400: "Invalid request",
    401: "Invalid API key",
    402: "Insufficient points: your point balance is zero",
    404: "Not found",
    429: "Rate limit exceeded",
    500: "The provider failed to process the request",
}


def prompt(fields: dict[str, Any]) -> str:
    """The prompt; a `[error:NNN]` marker in it answers that error right here."""
    text = fields.get("prompt")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "prompt is required and must be a non-empty string")
    marker = _ERROR_MARKER.search(text)
    if marker is not None:
        status = int(marker.group(1))
        if 400 <= status <= 599:
            message = _MARKER_MESSAGES.get(status, "Simulated error")
            raise ApiError(status, f"{message} (simulated by the prompt marker)")
    return text


def render_seconds(prompt: str) -> float | None:
    """The render time a `[render:NN]` marker asks for (NN seconds, 47.5 allowed), if any.

    A benchmark spreads its jobs' completions with it; the id keeps the render time,
    so every simulator that reads the id agrees on when the job finishes.
    """
    marker = _RENDER_MARKER.search(prompt)
    return float(marker.group(1)) if marker is not None else None


def seconds(value: object, model: catalog.SimModel) -> int:
    """An int or a numeric string ("8"), one the model allows; the model's default if absent."""
    if value is None or value == "":
        return model.default_seconds
    number: int | None = None
    if isinstance(value, bool):  # True is an int to Python, not to a JSON API
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    allowed = ", ".join(str(n) for n in model.durations)
    if number is None or number not in model.durations:
        raise ApiError(400, f"seconds must be one of {allowed} for {model.name}, not {value!r}")
    return number


def size(value: object, model: catalog.SimModel) -> str:
    """WIDTHxHEIGHT, one the model allows; portrait 720x1280 if absent."""
    if value is None or value == "":
        return catalog.PORTRAIT
    if not isinstance(value, str) or not _SIZE.match(value.strip()):
        raise ApiError(400, f"size must look like WIDTHxHEIGHT (e.g. 720x1280), not {value!r}")
    wanted = value.strip()
    if wanted not in model.sizes:
        allowed = ", ".join(model.sizes)
        raise ApiError(400, f"size {wanted} is not available for {model.name}: use {allowed}")
    return wanted


def base64_image(value: object) -> bytes:
    if not isinstance(value, str):
        raise ApiError(400, "input_image must be a base64 string")
    text = value.strip()
    if text.startswith("data:"):  # tolerate a data URL as well as bare base64
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "input_image is not valid base64") from None


def image_tint(data: bytes) -> int:
    """The image's mean colour as 0xRRGGBB (it tints the video); 400 if Pillow can't read it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            mean = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ApiError(400, "The reference image could not be decoded") from None
    if not isinstance(mean, tuple) or len(mean) < 3:
        return 0
    r, g, b = (int(channel) for channel in mean[:3])
    return (r << 16) | (g << 8) | b
