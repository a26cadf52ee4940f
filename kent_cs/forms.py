"""The sign-in form."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from kent_cs.audit import client_ip
from kent_cs.auth import LockedOut, lockout_check


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The username or password is not right. Both are case-sensitive.",
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username:
            try:
                lockout_check(username=username, ip=client_ip(self.request))
            except LockedOut as exc:
                raise forms.ValidationError(str(exc.args[0]), code="locked_out") from None
        return super().clean()


class SecondFactorForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "pattern": "[0-9 ]*",
            }
        ),
    )

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())
        if not code.isdigit() or len(code) != 6:
            raise forms.ValidationError("Enter the six digits the app shows.")
        return code
