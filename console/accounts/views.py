from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from console.accounts import selectors, services
from console.accounts.forms import LoginForm, TokenCreateForm
from console.audit.auth import require_cap
from console.core.roles import Cap

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@require_http_methods(["GET", "POST"])
@require_cap(Cap.VIEW)
def token_list(request: HttpRequest) -> HttpResponse:
    issued = None
    form = TokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        issued = services.api_token_create(
            user=cast("User", request.user),  # signed in: the view requires it
            name=form.cleaned_data["name"],
        )
        form = TokenCreateForm()
    context = {
        "tokens": selectors.api_token_list(user=request.user),
        "form": form,
        "issued": issued,
    }
    return render(request, "accounts/tokens.html", context, status=400 if form.errors else 200)


@require_POST
@require_cap(Cap.VIEW)
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = selectors.api_token_list(user=request.user).filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("accounts:tokens")
