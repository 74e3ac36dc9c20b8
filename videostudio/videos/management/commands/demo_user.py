"""Create the first account on a fresh install and print its login once."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "On a fresh install (no accounts yet), create an admin account with a random "
        "password and print it once. --reset gives it a new random password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--reset", action="store_true", help="set a new random password")

    def handle(self, *args: Any, username: str, reset: bool, **options: Any) -> None:
        users = get_user_model()
        password = secrets.token_urlsafe(12)
        user = users.objects.filter(username=username).first()
        if user is None and users.objects.exists():
            self.stdout.write("Accounts exist already; no demo account was created.")
            return
        if user is None:
            users.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(self.style.SUCCESS("Created the first account (an admin)."))
        elif reset:
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write(self.style.SUCCESS(f"New password for {username}."))
        else:
            self.stdout.write(
                f"Log in as {username!r}: its password was printed when it was created. "
                f"Forgot it? Run: make password"
            )
            return
        self.stdout.write(
            "\n"
            "  +-----------------------------------------------+\n"
            f"  |  username: {username:<35}|\n"
            f"  |  password: {password:<35}|\n"
            "  +-----------------------------------------------+\n"
            "  This password is shown once; it is not stored anywhere in clear.\n"
        )
