from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

# django-axes registers its own admin first (it comes before this app); this one adds
# an action that says what deleting the rows does.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    actions = [*AccessAttemptAdmin.actions, "unlock"]

    @admin.action(description="Unlock: forget these failed sign-ins", permissions=["delete"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        who = sorted({f"{a.username or '?'} from {a.ip_address}" for a in queryset})
        count, _ = queryset.delete()
        self.message_user(
            request,
            f"Unlocked {', '.join(who)}: they can sign in again."
            if count
            else "Nothing to unlock.",
            messages.SUCCESS,
        )
