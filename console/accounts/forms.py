from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from console.accounts import services
from console.accounts.models import AuthFailure
from console.core import context


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": "Too many failed logins: this account is locked from your address for a "
        "while. Try again later.",
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and services.auth_is_locked(
            kind=AuthFailure.Kind.PASSWORD, identity=username, ip=context.current().ip
        ):
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        return super().clean()


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'ci-pipeline'.")
