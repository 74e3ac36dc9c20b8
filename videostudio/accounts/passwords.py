"""Django's password checks, saying in the app's words why a password is refused
(settings.AUTH_PASSWORD_VALIDATORS names these)."""

from __future__ import annotations

from django.contrib.auth import password_validation


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def get_error_message(self) -> str:
        return f"This password is too short: use at least {self.min_length} characters."

    def get_help_text(self) -> str:
        return f"At least {self.min_length} characters."


class UserAttributeSimilarityValidator(password_validation.UserAttributeSimilarityValidator):
    def get_error_message(self) -> str:
        return "This password is too close to your %(verbose_name)s: choose one less like it."

    def get_help_text(self) -> str:
        return "Not like your username, name or email address."


class CommonPasswordValidator(password_validation.CommonPasswordValidator):
    def get_error_message(self) -> str:
        return (
            "This password is on the list of common passwords that are guessed first: "
            "choose another."
        )

    def get_help_text(self) -> str:
        return "Not one of the passwords that everyone uses."
