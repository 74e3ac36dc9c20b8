from __future__ import annotations

import io
import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.validators import MaxLengthValidator
from django.http import QueryDict
from django.urls import reverse_lazy
from PIL import Image, ImageOps

from videostudio.forms import StudioForm, choice_list, escape_percent
from videostudio.provider.catalog import ModelSpec, find_model
from videostudio.videos.lineage import (
    extension_choices,
    extension_room,
    lineage_refusal,
    lineage_spec,
)
from videostudio.videos.models import Video

# Larger images are refused before they are decoded (a small file can hold a huge one).
MAX_PIXELS = 40_000_000
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def size_label(size: str) -> str:
    width, _, height = size.partition("x")
    try:
        shape = "portrait" if int(height) > int(width) else "landscape"
    except ValueError:
        return size
    return f"{size} ({shape})"


TITLE_CHARS = 200
# A form's hidden token (one job per form, however often it is sent) was changed.
STALE_FORM = (
    "This form is out of date. What you typed is kept below: check it and send it again, "
    "or reload the page to start afresh."
)


def prompt_too_long() -> MaxLengthValidator:
    return MaxLengthValidator(
        settings.VIDEOSTUDIO_MAX_PROMPT_CHARS,
        message="The prompt is %(show_value)d characters long; the limit is %(limit_value)d. "
        "Shorten it and send it again.",
    )


class Tokened(StudioForm):
    """A form that makes a job, carrying a token so that sending it twice makes one.

    A token that is not one (the page was edited, or is very old) is said above the
    form, which keeps what was typed and gets a fresh token: sent again, it works."""

    token = forms.UUIDField(
        widget=forms.HiddenInput, required=False, error_messages={"invalid": STALE_FORM}
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "token" in self.errors:
            self.errors.pop("token")
            self.add_error(None, STALE_FORM)
            fresh = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
            fresh["token"] = str(uuid.uuid4())
            self.data = fresh
        return data


class VideoEditForm(StudioForm):
    title = forms.CharField(
        label="Title",
        required=False,
        validators=[
            MaxLengthValidator(
                TITLE_CHARS,
                message="The title is %(show_value)d characters long; the limit is "
                "%(limit_value)d.",
            )
        ],
    )
    visibility = forms.ChoiceField(
        label="Who can see it",
        choices=Video.Visibility.choices,
        error_messages={
            "required": "Choose who can see it: the team, or only you.",
            "invalid_choice": "“%(value)s” is not a choice here: a video is either shared "
            "with the team or private to you.",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].widget.attrs["maxlength"] = str(TITLE_CHARS)


class VideoForm(Tokened):
    """A new video. Every choice comes from the catalog entry of the chosen model."""

    model = forms.ChoiceField(
        label="Model",
        error_messages={"required": "Choose a model."},
        widget=forms.Select(
            attrs={
                # Changing the model redraws the durations and sizes it allows.
                "hx-get": reverse_lazy("videos:new"),
                "hx-target": "#video-fields",
                "hx-swap": "outerHTML",
                "hx-include": "[name=seconds],[name=size]",
                "hx-trigger": "change",
            }
        ),
    )
    prompt = forms.CharField(
        label="Prompt",
        error_messages={"required": "Write a prompt: what should the video show?"},
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "Describe the video…"}),
    )
    seconds = forms.TypedChoiceField(label="Duration", coerce=int)
    size = forms.ChoiceField(label="Size")
    share = forms.BooleanField(
        label="Share with the team",
        required=False,
        help_text="Shared videos appear in the team's gallery; private ones only to you.",
    )
    image = forms.FileField(
        label="Reference image (optional)",
        required=False,
        help_text="JPEG, PNG or WebP; used as the first frame, fitted to the size.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        error_messages={
            "invalid": "The image did not arrive: choose it again.",
            "missing": "The image did not arrive: choose it again.",
            "empty": "The image file is empty: choose another.",
            "max_length": "The image's file name is %(length)d characters long; the limit "
            "is %(max)d. Rename it first.",
            "contradiction": "Either choose a new image or tick “Clear”, not both.",
        },
    )

    def __init__(self, *args: Any, catalog: tuple[ModelSpec, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalog = catalog
        max_chars = settings.VIDEOSTUDIO_MAX_PROMPT_CHARS
        prompt = self.fields["prompt"]
        assert isinstance(prompt, forms.CharField)
        prompt.max_length = max_chars
        prompt.validators.append(prompt_too_long())
        prompt.widget.attrs["maxlength"] = str(max_chars)
        model_field = self.fields["model"]
        assert isinstance(model_field, forms.ChoiceField)
        model_field.choices = [(spec.name, spec.label) for spec in catalog]
        offered = escape_percent(choice_list(spec.label for spec in catalog))
        model_field.error_messages["invalid_choice"] = (
            f"“%(value)s” is not a model offered here now: choose {offered}."
        )
        self.spec = self._chosen_spec()
        seconds = self.fields["seconds"]
        size = self.fields["size"]
        assert isinstance(seconds, forms.ChoiceField) and isinstance(size, forms.ChoiceField)
        seconds.choices = [(s, f"{s} seconds") for s in self.spec.durations]
        size.choices = [(s, size_label(s)) for s in self.spec.sizes]
        label, durations = self.spec.label, _durations(self.spec)
        sizes = choice_list(size_label(s) for s in self.spec.sizes)
        seconds.error_messages["invalid_choice"] = (
            f"“%(value)s” is not a length {escape_percent(label)} makes: choose {durations}."
        )
        seconds.error_messages["required"] = f"Choose a duration: {label} makes {durations}."
        made = escape_percent(f"{label} makes: choose {sizes}")
        size.error_messages["invalid_choice"] = f"“%(value)s” is not a size {made}."
        size.error_messages["required"] = f"Choose a size: {label} makes {sizes}."
        if not self.is_bound:
            self.initial["model"] = self.spec.name
            self.initial.setdefault("token", uuid.uuid4())
            self.initial.setdefault("share", settings.VIDEOSTUDIO_DEFAULT_VISIBILITY == "team")
            if not _int_in(self.initial.get("seconds"), self.spec.durations):
                self.initial["seconds"] = self.spec.default_seconds
            if self.initial.get("size") not in self.spec.sizes:
                self.initial["size"] = self.spec.default_size
        if not self.spec.image_input:
            self.fields["image"].disabled = True
            self.fields["image"].help_text = f"{self.spec.label} does not take a reference image."

    def _chosen_spec(self) -> ModelSpec:
        name = (self.data.get("model") if self.is_bound else None) or self.initial.get("model")
        return (name and find_model(str(name), self.catalog)) or self.catalog[0]

    def clean_image(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get("image")
        if not upload:
            return None
        limit = settings.MAX_UPLOAD_MB * 1024 * 1024
        if upload.size is not None and upload.size > limit:
            raise forms.ValidationError(
                f"The image is {upload.size / 1048576:.1f} MB; the limit is "
                f"{settings.MAX_UPLOAD_MB} MB."
            )
        try:
            with Image.open(upload) as probe:
                fmt = probe.format or ""
                pixels = probe.width * probe.height
                if pixels <= MAX_PIXELS:
                    probe.verify()
        except Exception:  # Pillow raises many kinds for damaged or hostile files
            raise forms.ValidationError(
                "That file is not an image we can read; use JPEG, PNG or WebP."
            ) from None
        if pixels > MAX_PIXELS:
            raise forms.ValidationError(
                f"The image is {pixels / 1e6:.0f} megapixels; the limit is "
                f"{MAX_PIXELS // 1_000_000}. Scale it down first."
            )
        if fmt not in IMAGE_FORMATS:
            raise forms.ValidationError(
                f"{fmt or 'That'} images are not accepted; use JPEG, PNG or WebP."
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.has_error("model"):
            # The durations and sizes were checked against another model's: moot.
            for name in ("seconds", "size"):
                self.errors.pop(name, None)
        if not self.spec.image_input and self.files.get("image"):
            self.add_error(
                "image",
                f"{self.spec.label} does not take a reference image: leave it out, or "
                "choose a model that takes one.",
            )
        # Choices already come from the chosen model, so seconds and size are valid
        # for it when present; the image is fitted to the size the video will have.
        image, size = data.get("image"), data.get("size")
        if image is not None and size:
            try:
                data["image"] = fit_image(image, size)
            except Exception:  # verify() does not decode: a truncated file fails only here
                self.add_error("image", "That image is damaged and cannot be read.")
        return data


def _int_in(value: Any, allowed: tuple[int, ...]) -> bool:
    try:
        return int(value) in allowed
    except (TypeError, ValueError):
        return False


def _durations(spec: ModelSpec) -> str:
    return choice_list((str(s) for s in spec.durations), most=20) + " seconds"


def fit_image(upload: UploadedFile, size: str) -> SimpleUploadedFile:
    """Crop and scale the reference image to the video's size: the provider wants
    the first frame to match the output exactly."""
    width, _, height = size.partition("x")
    upload.seek(0)
    with Image.open(upload) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
        fitted = ImageOps.fit(image, (int(width), int(height)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    fitted.save(buffer, format="JPEG", quality=92)
    return SimpleUploadedFile("reference.jpg", buffer.getvalue(), content_type="image/jpeg")


class DeriveForm(Tokened):
    """A remix (new prompt, all else inherited) or an extension (what happens next).

    Its choices and its refusals come from the source's model as the catalog has it
    now: a model retired since the page was loaded, or one that cannot remix or
    extend, is said above the form, which keeps what was typed."""

    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write a prompt for the new video."},
    )
    seconds = forms.TypedChoiceField(label="Add", coerce=int)
    share = forms.BooleanField(label="Share with the team", required=False)

    def __init__(self, *args: Any, kind: str, source: Video, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.source = source
        self.spec = lineage_spec(source)
        prompt = self.fields["prompt"]
        assert isinstance(prompt, forms.CharField)
        prompt.max_length = settings.VIDEOSTUDIO_MAX_PROMPT_CHARS
        prompt.validators.append(prompt_too_long())
        prompt.widget.attrs["maxlength"] = str(settings.VIDEOSTUDIO_MAX_PROMPT_CHARS)
        if kind == Video.Kind.REMIX:
            prompt.label = "New style"
            prompt.widget.attrs["placeholder"] = "Transform into an anime-style animation"
            del self.fields["seconds"]
        else:
            prompt.label = "What happens next"
            prompt.widget.attrs["placeholder"] = "The dog leaps into the lake"
            self._extension_seconds()
        if not self.is_bound:
            self.initial.setdefault("token", uuid.uuid4())
            self.initial.setdefault("share", settings.VIDEOSTUDIO_DEFAULT_VISIBILITY == "team")
        for name in self.fields:
            self.fields[name].widget.attrs.setdefault("id", f"id_{kind}_{name}")

    def _extension_seconds(self) -> None:
        """Offered: what still fits under the cap. Taken: any length the model adds,
        so that one past the cap is told the cap rather than "not a choice"."""
        seconds = self.fields["seconds"]
        assert isinstance(seconds, forms.TypedChoiceField)
        spec = self.spec
        offered = spec.durations if spec is not None and spec.extend else ()
        seconds.choices = [(s, f"{s} more seconds") for s in offered]
        seconds.widget.choices = [
            (s, f"{s} more seconds")
            for s in (extension_choices(self.source, spec) if spec is not None else [])
        ]
        if spec is not None and offered:
            room = extension_room(self.source, spec)
            seconds.error_messages["invalid_choice"] = (
                f"{escape_percent(spec.label)} does not add “%(value)s”: it adds "
                f"{_durations(spec)}. {escape_percent(room)}"
            )
            seconds.error_messages["required"] = f"Choose how many seconds to add. {room}"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        refusal = lineage_refusal(self.source, self.kind)
        if refusal:
            # Nothing about this form can change that: say so once, above it.
            self.errors.pop("seconds", None)
            self.add_error(None, refusal)
        elif self.kind == Video.Kind.EXTENSION and data.get("seconds") is not None:
            refusal = lineage_refusal(self.source, self.kind, seconds=data["seconds"])
            if refusal:
                self.add_error("seconds", refusal)
        return data
