"""The login page (and what it says when sign-ins are throttled) and password reset,
which exists only where the deployment can send mail."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.template import loader

from videostudio.forms import LoginForm, OwnSetPasswordForm, OwnWords

logger = logging.getLogger(__name__)


def lockout_message() -> str:
    minutes = settings.VIDEOSTUDIO_LOCKOUT_MINUTES
    return (
        "Too many failed sign-ins for this account or address. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an admin to unlock it."
    )


class LoginView(auth_views.LoginView):
    form_class = LoginForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["password_reset"] = settings.VIDEOSTUDIO_PASSWORD_RESET
        return context


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer once an account or address is locked out: the login page,
    saying so, with 429 Too Many Requests."""
    form = LoginForm(request, initial={"username": (credentials or {}).get("username")})
    context = {
        "form": form,
        "next": request.POST.get("next", "") if request.method == "POST" else "",
        "locked_out": lockout_message(),
        "password_reset": settings.VIDEOSTUDIO_PASSWORD_RESET,
    }
    return render(request, "registration/login.html", context, status=429)


class ResetForm(OwnWords, PasswordResetForm):
    """Django's form, except that a mail that cannot be sent is said so, in one log
    line and on the page, instead of a traceback and "we emailed you"."""

    failed = False

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            html = loader.render_to_string(html_email_template_name, context)
            message.attach_alternative(html, "text/html")
        try:
            message.send()
        except (OSError, smtplib.SMTPException) as exc:
            self.failed = True
            logger.error(
                "Password reset mail for user #%s could not be sent: %s: %s",
                context["user"].pk,
                type(exc).__name__,
                exc,
            )


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        if form.failed:
            form.add_error(
                None,
                "The mail could not be sent just now. Try again in a few minutes, "
                "or ask an admin to set a new password for you.",
            )
            return self.form_invalid(form)
        return response


def _when_mail_works(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Password reset only where mail can be sent; elsewhere a plain 404 page."""

    @wraps(view)
    def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.VIDEOSTUDIO_PASSWORD_RESET:
            return render(request, "registration/password_reset_unavailable.html", status=404)
        return view(request, *args, **kwargs)

    return login_not_required(gated)


password_reset = _when_mail_works(PasswordResetView.as_view())
password_reset_done = _when_mail_works(auth_views.PasswordResetDoneView.as_view())
password_reset_confirm = _when_mail_works(
    auth_views.PasswordResetConfirmView.as_view(form_class=OwnSetPasswordForm)
)
password_reset_complete = _when_mail_works(auth_views.PasswordResetCompleteView.as_view())
