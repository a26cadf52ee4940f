"""Placeholder views, replaced as the pages are built."""

from django.http import Http404


def approve(request, *args, **kwargs):
    raise Http404("Not built yet")


def correction_list(request, *args, **kwargs):
    raise Http404("Not built yet")


def reject(request, *args, **kwargs):
    raise Http404("Not built yet")


def reversal_request(request, *args, **kwargs):
    raise Http404("Not built yet")


def void_request(request, *args, **kwargs):
    raise Http404("Not built yet")
