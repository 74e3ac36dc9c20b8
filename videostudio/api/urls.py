from __future__ import annotations

from django.urls import path

from videostudio.api import views

app_name = "api"

urlpatterns = [
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/all/", views.token_list_all, name="tokens_all"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
