"""Placeholder views, replaced as the pages are built."""

from django.http import Http404


def import_accounts(request, *args, **kwargs):
    raise Http404("Not built yet")
