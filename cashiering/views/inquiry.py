"""Placeholder views, replaced as the pages are built."""

from django.http import Http404


def inquiry(request, *args, **kwargs):
    raise Http404("Not built yet")


def inquiry_search(request, *args, **kwargs):
    raise Http404("Not built yet")


def note_add(request, *args, **kwargs):
    raise Http404("Not built yet")
