"""License import reads. Imports are city-wide records, like the licenses they make: a
user who may import licenses may fetch any import (its refused rows included)."""

from django.shortcuts import get_object_or_404

from licensing.models import LicenseImport


def license_import_get(*, pk: int) -> LicenseImport:
    """The import, or 404."""
    return get_object_or_404(LicenseImport, pk=pk)
