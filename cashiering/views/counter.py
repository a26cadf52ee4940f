"""Placeholder views, replaced as the pages are built."""

from django.http import Http404


def lookup(request, *args, **kwargs):
    raise Http404("Not built yet")


def my_session(request, *args, **kwargs):
    raise Http404("Not built yet")


def receipt_detail(request, *args, **kwargs):
    raise Http404("Not built yet")


def receipt_line(request, *args, **kwargs):
    raise Http404("Not built yet")


def receipt_new(request, *args, **kwargs):
    raise Http404("Not built yet")


def receipt_pdf(request, *args, **kwargs):
    raise Http404("Not built yet")


def receipt_post_view(request, *args, **kwargs):
    raise Http404("Not built yet")


def receipt_print(request, *args, **kwargs):
    raise Http404("Not built yet")


def session_close_view(request, *args, **kwargs):
    raise Http404("Not built yet")


def session_detail(request, *args, **kwargs):
    raise Http404("Not built yet")


def session_list(request, *args, **kwargs):
    raise Http404("Not built yet")


def session_open_view(request, *args, **kwargs):
    raise Http404("Not built yet")
