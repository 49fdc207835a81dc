"""Pages of data rights: download all one's data, delete the account (Security tab)."""

import json
from typing import Any

from allauth.account.decorators import reauthentication_required
from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import FormView

from accounts.data_rights import (
    EXPORT_JOB_TYPE,
    account_delete,
    account_export,
    export_job_document,
)
from accounts.data_rights_apis import export_filename
from accounts.views import ProfileTabMixin
from audit.models import BackgroundJob
from audit.selectors import job_list
from trading_lab.exceptions import ApplicationError


def _download(document: dict[str, Any]) -> HttpResponse:
    content = json.dumps(document, cls=DjangoJSONEncoder, indent=2).encode("utf-8")
    response = HttpResponse(content, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{export_filename()}"'
    return response


@method_decorator(never_cache, name="dispatch")
class AccountExportView(LoginRequiredMixin, View):
    """Download everything as JSON; a large account's export is prepared as a job first."""

    def get(self, request: HttpRequest) -> HttpResponse:
        made = account_export(user=request.user, request=request)
        if isinstance(made, BackgroundJob):
            messages.info(
                request,
                "Your account is large, so its export is being prepared. Its download link "
                "appears under “Download my data” when it is ready.",
            )
            return HttpResponseRedirect(reverse("profile_security") + "#data")
        return _download(made)


@method_decorator(never_cache, name="dispatch")
class AccountExportDownloadView(LoginRequiredMixin, View):
    """The document of one of the caller's finished export jobs."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(job_list(user=request.user).filter(job_type=EXPORT_JOB_TYPE), pk=pk)
        try:
            document = export_job_document(job=job)
        except ApplicationError as error:
            messages.warning(request, error.message)
            return HttpResponseRedirect(reverse("profile_security") + "#data")
        return _download(document)


class AccountDeleteForm(forms.Form):
    confirm = forms.CharField(
        label="Type your email address to confirm",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value.lower() != self.email.lower():
            raise forms.ValidationError("This is not your email address.")
        return value


class AccountDeleteView(ProfileTabMixin, FormView):
    """The delete-account page: confirm by typing the address, then re-authenticate."""

    template_name = "pages/profile/delete_account.html"
    form_class = AccountDeleteForm
    tab = "security"
    http_method_names = ["get", "post"]

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "email": self.request.user.email}

    @method_decorator(reauthentication_required)
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AccountDeleteForm) -> HttpResponse:
        try:
            account_delete(user=self.request.user, request=self.request)
        except ApplicationError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, "Your account and all its data were deleted.")
        return HttpResponseRedirect(reverse("account_login"))
