"""Django's own words for refusing input, read from Django itself, and a check that a
response holds none of them.

Gathered, not typed in: every `default_error_messages` of Django's form fields (the
"Select a valid choice" family included), of its formsets and model fields, every
validator's message in django.core.validators, the auth forms' and password checks'
messages, the model checks a ModelForm runs (unique, unique together, constraints), the
paginator's. A Django upgrade that adds one adds it here too.
"""

from __future__ import annotations

import html
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django import forms
from django.apps import apps
from django.contrib.auth import password_validation
from django.contrib.auth import validators as auth_validators
from django.core import validators
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models.constraints import BaseConstraint
from django.forms.formsets import BaseFormSet
from django.utils.functional import Promise

# Where Django keeps form fields and forms beyond django.forms: imported so that their
# classes are among the subclasses walked.
MODULES = [
    "django.forms.models",
    "django.contrib.auth.forms",
    "django.contrib.admin.forms",
    "django.contrib.admin.helpers",
    "django.contrib.postgres.forms",  # only where psycopg is installed
]
# Said inline (a gettext call in a method, not an attribute anyone can read).
INLINE = [
    "(Hidden field %(name)s) %(error)s",
    "Please correct the duplicate data for %(field)s, which must be unique.",
    "Please correct the duplicate data for %(field_name)s which must be unique for the "
    "%(lookup)s in %(date_field)s.",
    "Please correct the duplicate values below.",
    "The inline value did not match the parent instance.",
    "%(field_label)s must be unique for %(date_field_label)s %(lookup_type)s.",
    "Select a valid choice",
    # The admin's, of an action sent without one or without rows.
    "No action selected.",
    "Items must be selected in order to perform actions on them. No items have been changed.",
]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdrfi]|%[sdrfi]|\{\w*\}")


@dataclass(frozen=True)
class Stock:
    template: str
    where: str
    pattern: re.Pattern[str]
    anchor: str  # its longest literal piece: a cheap first look


def _texts(message: Any) -> list[str]:
    """The template(s) of a message: both forms of a lazy plural."""
    if isinstance(message, Promise):
        kw = getattr(message, "_kw", {})
        if "singular" in kw:
            return [kw["singular"], kw["plural"]]
    try:
        return [str(message)]
    except (TypeError, KeyError):
        return []


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _sources() -> Iterator[tuple[str, Any]]:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    for cls in [forms.Field, *_subclasses(forms.Field), BaseFormSet, Paginator]:
        for key, message in vars(cls).get("default_error_messages", {}).items():
            yield f"{cls.__module__}.{cls.__qualname__}[{key}]", message
    for cls in [models.Field, *_subclasses(models.Field)]:
        for key, message in vars(cls).get("default_error_messages", {}).items():
            yield f"{cls.__module__}.{cls.__qualname__}[{key}]", message
    for cls in _subclasses(forms.BaseForm):
        if cls.__module__.startswith("django."):
            for key, message in vars(cls).get("error_messages", {}).items():
                yield f"{cls.__module__}.{cls.__qualname__}.error_messages[{key}]", message
    for module in (validators, auth_validators):
        for name, value in vars(module).items():
            for key, message in _validator_messages(value):
                yield f"{module.__name__}.{name}{key}", message
    for name, value in vars(validators).items():
        if inspect.isfunction(value) and name.startswith("validate_"):
            # Plain functions word their refusal inline: ask them to refuse.
            try:
                value("\x00 not valid")
            except ValidationError as exc:
                yield f"django.core.validators.{name}()", exc.message
            except Exception:
                pass
    yield "StepValueValidator(offset=)", validators.StepValueValidator(1, offset=0).message
    yield "BaseConstraint", BaseConstraint.default_violation_error_message
    for model in apps.get_models():  # a model's own words for its fields (User's username)
        for model_field in model._meta.get_fields():
            for key, message in getattr(model_field, "error_messages", {}).items():
                if isinstance(message, Promise):  # a library's words, not the app's
                    yield f"{model._meta.label}.{model_field.name}[{key}]", message
    user = apps.get_model("auth", "User")
    unique = user().unique_error_message(user, ("username", "email"))
    yield "Model.unique_error_message (together)", unique.message
    for checker in (
        password_validation.MinimumLengthValidator(1),
        password_validation.MinimumLengthValidator(8),
        password_validation.UserAttributeSimilarityValidator(),
        password_validation.CommonPasswordValidator(),
        password_validation.NumericPasswordValidator(),
    ):
        yield f"{type(checker).__qualname__}.get_error_message", checker.get_error_message()
    for text in INLINE:
        yield "inline", text


def _validator_messages(value: Any) -> Iterator[tuple[str, Any]]:
    """A validator's message(s): a class's or an instance's (validate_email...)."""
    message = getattr(value, "message", None)
    if isinstance(message, (str, Promise)):
        yield ".message", message
    messages = getattr(value, "messages", None)
    if isinstance(messages, dict):  # DecimalValidator's
        for key, text in messages.items():
            yield f".messages[{key}]", text


@cache
def stock_words() -> tuple[Stock, ...]:
    found: dict[str, Stock] = {}
    for where, message in _sources():
        for template in _texts(message):
            if template in found:
                continue
            pieces = [p.replace("%%", "%") for p in PLACEHOLDER.split(template)]
            anchor = max(pieces, key=len).strip()
            if len(anchor) < 8:
                raise AssertionError(f"{where}: {template!r} has too little text to look for")
            pattern = r"[\s\S]{0,300}?".join(re.escape(p) for p in pieces)
            found[template] = Stock(template, where, re.compile(pattern), anchor)
    return tuple(found.values())


def stock_words_in(text: str) -> list[Stock]:
    """The stock messages `text` (a page, escaped as HTML) holds."""
    plain = html.unescape(text)
    return [s for s in stock_words() if s.anchor in plain and s.pattern.search(plain)]


def assert_own_words(response: Any, what: Any = "") -> None:
    """No stock Django message in a response the user reads (pages, partials, JSON)."""
    if getattr(response, "streaming", False):
        return
    kind = response.get("Content-Type", "")
    if not kind.startswith(("text/", "application/json")):
        return
    found = stock_words_in(response.content.decode(errors="replace"))
    assert not found, (what, [f"{s.where}: {s.template}" for s in found])
