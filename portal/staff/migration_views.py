"""Staff page for bringing existing customers over: upload an import file (issue 17).

The same service as ``manage.py import_customers`` (``portal.migration.imports``), the same
report. A request whose body is larger than ``MIGRATION_IMPORT_MAX_BYTES`` (plus the form's
own overhead) is refused with 413 before Django reads it.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.audit import AuditContext
from portal.migration.csv_rows import max_bytes
from portal.migration.imports import ImportReport, import_customers
from portal.staff.access import RUN_MIGRATIONS, staff_permission_required
from portal.staff.forms import CustomerImportForm

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the other fields


@staff_permission_required(RUN_MIGRATIONS)
@require_http_methods(["GET", "POST"])
@never_cache
def customer_import(request: HttpRequest) -> HttpResponse:
    """The upload form; a posted file is imported (or dry-run) and its report shown."""
    if request.method == "POST" and _body_too_large(request):
        context = {"form": CustomerImportForm(), "too_large": max_bytes()}
        return render(request, "portal/staff/customer_import.html", context, status=413)
    posted = request.method == "POST"
    form = CustomerImportForm(request.POST if posted else None, request.FILES if posted else None)
    report: ImportReport | None = None
    if posted and form.is_valid():
        report = import_customers(
            data=form.cleaned_data["file"].read(max_bytes() + 1),
            campaign=form.cleaned_data["campaign"],
            deadline=form.cleaned_data["deadline"],
            context=AuditContext.from_request(request),
            dry_run=form.cleaned_data["dry_run"],
        )
    context = {"form": form, "report": report, "lines": report.lines() if report else []}
    status = 400 if form.errors or (report is not None and not report.ok) else 200
    return render(request, "portal/staff/customer_import.html", context, status=status)


def _body_too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > max_bytes() + FORM_OVERHEAD
