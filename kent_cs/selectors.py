"""Reads for the shared pages: home dashboard, activity (audit trail), object timelines."""

from datetime import datetime, time, timedelta

import pghistory.models
from django import forms
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Model, Value
from django.utils import timezone

ACTIVITY_PAGE_SIZE = 50


def tracked_models() -> list[type[Model]]:
    """Every model whose changes are kept by pghistory, in app order."""
    return [
        model
        for model in apps.get_models()
        if getattr(model, "pgh_event_models", None) and not hasattr(model, "pgh_obj_model")
    ]


def _event_models_of(model: type[Model]) -> list[type[Model]]:
    # pgh_event_models maps each tracker label (insert, update) to its event model, which is
    # usually one model for all labels; listing it twice would show every event twice.
    return list(dict.fromkeys(model.pgh_event_models.values()))


def _event_models() -> list[type[Model]]:
    event_models = []
    for model in tracked_models():
        event_models.extend(_event_models_of(model))
    return list(dict.fromkeys(event_models))


class ActivityFilterForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.order_by("username"), required=False
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    model = forms.ChoiceField(required=False, label="Record type")
    object_id = forms.CharField(required=False, label="Record id", max_length=40)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "All record types")] + [
            (m._meta.label, m._meta.verbose_name.capitalize()) for m in tracked_models()
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        object_id, model = cleaned.get("object_id"), cleaned.get("model")
        if object_id and not model:
            self.add_error("model", "Choose the record type the id belongs to.")
        elif object_id:
            try:
                apps.get_model(model)._meta.pk.to_python(object_id)
            except ValidationError:
                self.add_error("object_id", f"{object_id} is not a record id.")
        return cleaned


def activity_page(params) -> tuple[ActivityFilterForm, Page | None]:
    """One page of audit events, newest first, filtered by user, dates and record.

    Two steps, because pghistory's aggregate Events query works out the data, the diff
    against the previous event and the context of every event in every table before it
    can sort and cut a page (minutes once a year of sign-ins is recorded). So first the
    page is found from the event tables' own columns (id, time, table), then only its
    events are read in full.
    """
    form = ActivityFilterForm(params or None)
    if params and not form.is_valid():
        return form, None
    data = form.cleaned_data if params else {}
    if data.get("model"):
        event_models = _event_models_of(apps.get_model(data["model"]))
    else:
        event_models = _event_models()
    zone = timezone.get_current_timezone()
    keys = []
    for event_model in event_models:
        rows = event_model.objects.all()
        if data.get("user"):
            rows = rows.filter(pgh_context__metadata__user=data["user"].pk)
        if data.get("date_from"):
            start = datetime.combine(data["date_from"], time.min, tzinfo=zone)
            rows = rows.filter(pgh_created_at__gte=start)
        if data.get("date_to"):
            end = datetime.combine(data["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
            rows = rows.filter(pgh_created_at__lt=end)
        if data.get("object_id") and not hasattr(event_model, "pgh_obj_id"):
            rows = rows.none()  # a link table's events (roles, permissions) name no record
        elif data.get("object_id"):
            rows = rows.filter(pgh_obj_id=data["object_id"])
        keys.append(
            rows.annotate(event_model=Value(event_model._meta.label)).values_list(
                "pgh_created_at", "pgh_id", "event_model"
            )
        )
    union = keys[0].union(*keys[1:], all=True) if len(keys) > 1 else keys[0]
    union = union.order_by("-pgh_created_at", "-pgh_id")
    page = Paginator(union, ACTIVITY_PAGE_SIZE).get_page(params.get("page") if params else 1)
    page.object_list = _events_by_key(list(page.object_list))
    _attach_users(page.object_list)
    return form, page


def _events_by_key(keys: list[tuple]) -> list:
    """The full Events rows for (created_at, pgh_id, event model label) keys, in order."""
    if not keys:
        return []
    slugs = [f"{label}:{pgh_id}" for _, pgh_id, label in keys]
    labels = list(dict.fromkeys(label for _, _, label in keys))
    # pgh_id reaches each event table's primary key index (a filter on pgh_slug would
    # be computed for every row); ids shared by two tables are sorted out by slug.
    ids = {pgh_id for _, pgh_id, _ in keys}
    events = pghistory.models.Events.objects.across(*labels).filter(pgh_id__in=ids)
    by_slug = {event.pgh_slug: event for event in events}
    return [by_slug[slug] for slug in slugs if slug in by_slug]


def _attach_users(events) -> None:
    ids = {e.pgh_context.get("user") for e in events if e.pgh_context}
    ids.discard(None)
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)}
    for event in events:
        context = event.pgh_context or {}
        event.actor = users.get(context.get("user"))
        event.model_name = _model_verbose(event.pgh_obj_model)


def _model_verbose(label: str) -> str:
    try:
        return str(apps.get_model(label)._meta.verbose_name).capitalize()
    except (LookupError, ValueError):
        return label


def object_timeline(obj: Model, limit: int = 200) -> list:
    """Every recorded change of `obj`, newest first, with who made it and why."""
    if not getattr(type(obj), "pgh_event_models", None):
        return []
    events = list(
        pghistory.models.Events.objects.tracks(obj).order_by("-pgh_created_at", "-pgh_id")[:limit]
    )
    _attach_users(events)
    return events


def dashboard_for(user) -> dict:
    """Figures for the home page cards; each app contributes through `dashboard_cards`."""
    cards = []
    for config in apps.get_app_configs():
        provider = getattr(config, "dashboard_cards", None)
        if provider is not None:
            cards.extend(provider(user))
    return {"cards": cards}
