"""Training pages: the staff member's course and exercises ("Start exercise", "Check my
work"), the supervisor's progress pages, and the user guide with its help link."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from audit import guide, training

PROGRESS = "audit.view_training_progress"
TAKE = "audit.take_training"


def _courses(request) -> list[training.Course]:
    courses = training.courses_for(request.user)
    if not courses or not request.user.has_perm(TAKE):
        raise PermissionDenied
    return courses


def _exercise(request, code: str) -> training.Exercise:
    _courses(request)
    exercise = training.exercise_for(request.user, code)
    if exercise is None:
        raise Http404("No such exercise in your course.")
    return exercise


def course(request):
    courses = _courses(request)
    return render(
        request,
        "audit/training/course.html",
        {
            "courses": [(c, training.progress_for(request.user, c)) for c in courses],
            "breadcrumbs": [("Training", None)],
        },
    )


def exercise_detail(request, code: str):
    exercise = _exercise(request, code)
    progress = next(
        p
        for c in training.courses_for(request.user)
        for p in training.progress_for(request.user, c)
        if p.exercise.code == code
    )
    return render(
        request,
        "audit/training/exercise.html",
        {
            "exercise": exercise,
            "progress": progress,
            "breadcrumbs": [("Training", reverse("audit:training")), (exercise.title, None)],
        },
    )


@require_POST
def exercise_start(request, code: str):
    exercise = _exercise(request, code)
    try:
        training.training_start(user=request.user, exercise=exercise)
    except training.TrainingError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(
            request,
            f"“{exercise.title}” started. Do the steps in a training session, then choose "
            "“Check my work”.",
        )
    return redirect("audit:training-exercise", code=code)


@require_POST
def exercise_check(request, code: str):
    exercise = _exercise(request, code)
    if not exercise.is_checked:
        messages.error(request, f"“{exercise.title}” is not checked by the system.")
        return redirect("audit:training-exercise", code=code)
    result = training.training_check(user=request.user, exercise=exercise)
    (messages.success if result.passed else messages.warning)(request, result.message)
    return redirect("audit:training-exercise", code=code)


@permission_required(PROGRESS, raise_exception=True)
def staff_progress(request):
    return render(
        request,
        "audit/training/staff.html",
        {
            "rows": training.staff_progress(),
            "breadcrumbs": [("Training progress", None)],
        },
    )


@permission_required(PROGRESS, raise_exception=True)
def staff_detail(request, pk: int):
    member = training.staff_member_get(pk=pk)
    return render(
        request,
        "audit/training/staff_detail.html",
        {
            "member": member,
            "courses": [
                (course, training.progress_for(member, course))
                for course in training.courses_for(member)
            ],
            "breadcrumbs": [
                ("Training progress", reverse("audit:training-staff")),
                (member.get_full_name() or member.get_username(), None),
            ],
        },
    )


def help_page(request):
    """The guide for the user's role, opened at the section of the page they came from."""
    page = request.GET.get("page", "")
    if not url_has_allowed_host_and_scheme(page, allowed_hosts=None):
        page = ""
    role = guide.role_of(request.user)
    url = reverse("audit:help-role", kwargs={"role": role})
    section = guide.section_for_page(page)
    anchor = guide.ROLE_SECTIONS[role] if section is None else section
    return redirect(f"{url}#{slugify(anchor)}")


def help_role(request, role: str):
    if role not in guide.ROLE_SECTIONS:
        raise Http404("No guide for that role.")
    loaded = guide.guide_load()
    wanted = [guide.ROLE_SECTIONS[role], guide.TRAINING_SECTION]
    return render(
        request,
        "audit/training/help.html",
        {
            "role": role,
            "roles": guide.ROLE_SECTIONS,
            "opening": loaded.opening,
            "sections": [loaded.sections[title] for title in wanted if title in loaded.sections],
            "breadcrumbs": [("User guide", None)],
        },
    )
