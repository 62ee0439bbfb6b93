"""Portal views: parse input, call one service or selector, render. No business rules here."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from owabi.core import ratelimit
from owabi.notices import selectors as notice_selectors
from owabi.notices import services as notice_services
from owabi.notices.models import Notice
from owabi.portal import access
from owabi.portal.access import signed_in
from owabi.portal.forms import (
    AccountForm,
    CheckForm,
    ChoiceForm,
    ClaimForm,
    LookupForm,
    RequestForm,
    SignInForm,
)
from owabi.portal.incident import portal_setup, setup_of
from owabi.redress import affected as redress_affected
from owabi.redress import payouts
from owabi.redress import selectors as redress
from owabi.redress import services as redress_services
from owabi.redress.models import Claim, Option
from owabi.redress.payees import Account, PayeeError, check_account
from owabi.redress.uploads import UploadError, check_upload
from owabi.reports import selectors as report_selectors


def _language() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def _notice(request: HttpRequest) -> Notice:
    return cast(Notice, request.notice)  # type: ignore[attr-defined]


def _people_choices(notice: Notice) -> list[tuple[int, str]]:
    return [
        (person.number, person.name or _("出産予定日 %(due)s のお子さま") % {"due": person.due})
        for person in notice_selectors.people(notice, _language())
    ]


# --- Public pages ---------------------------------------------------------------------------------------
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    if access.current_notice(request) is not None:
        return HttpResponseRedirect(reverse("portal:me"))
    typed = request.GET.get("code", "")
    form = SignInForm(initial={"code": typed[:40]})
    setup = portal_setup(request)
    return render(
        request,
        "portal/home.html",
        {
            "form": form,
            "expired": "expired" in request.GET,
            "erased_on": redress.erased_on(setup.incident_id) if setup else None,
        },
    )


@require_POST
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST)
    failed = limited = False
    if form.is_valid():
        try:
            notice = notice_services.sign_in(
                form.cleaned_data["code"], form.cleaned_data["key"], client=access.client_address(request)
            )
        except notice_services.SignInLimited:
            notice, limited = None, True
        if notice is not None:
            access.start(request, notice)
            return HttpResponseRedirect(reverse("portal:me"))
        failed = not limited
    status = 429 if limited else 200
    return render(
        request, "portal/home.html", {"form": form, "failed": failed, "limited": limited}, status=status
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    access.end(request)
    return HttpResponseRedirect(reverse("portal:home") + "?signed_out=1")


@never_cache
def check(request: HttpRequest) -> HttpResponse:
    """Is this notice genuine? A well-formed code shows the masked name and mailing date, or says we never
    sent it. Rate-limited per client, so it is no way to list codes."""
    form = CheckForm(request.POST or None)
    context: dict[str, Any] = {"form": form}
    if request.method == "POST" and form.is_valid():
        if not ratelimit.hit("portal.verify_letter.client", access.client_address(request)):
            context["limited"] = True
            return render(request, "portal/check.html", context, status=429)
        context["checked"] = True
        context["result"] = notice_selectors.genuine(form.cleaned_data["code"])
        context["code"] = notice_selectors.display_code(form.cleaned_data["code"])
    return render(request, "portal/check.html", context)


@never_cache
def affected(request: HttpRequest) -> HttpResponse:
    """ "Am I affected?": the answer is the same page for everyone (owabi.redress.affected)."""
    form = LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        setup = portal_setup(request)
        if setup is None:
            return render(request, "portal/not_found.html", status=404)
        asked = redress_affected.ask(
            incident=setup.incident,
            name=form.cleaned_data["name"],
            phone=form.cleaned_data["phone"],
            card_last4=form.cleaned_data["card_last4"],
            email=form.cleaned_data["email"],
            client=access.client_address(request),
        )
        if asked.limited:
            return render(request, "portal/affected.html", {"form": form, "limited": True}, status=429)
        return render(request, "portal/affected_done.html")
    return render(request, "portal/affected.html", {"form": form})


def language(request: HttpRequest, code: str) -> HttpResponse:
    """The language switch: a plain link, so public pages carry no form and answer every visitor with the
    same bytes (the "am I affected?" answer must not differ by a per-response token)."""
    target = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    response = HttpResponseRedirect(target)
    if code in {language for language, _ in settings.LANGUAGES}:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=365 * 24 * 3600,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            samesite="Lax",
            httponly=True,
        )
    return response


def announcement(request: HttpRequest) -> HttpResponse:
    """The public announcement (公表): the version staff published last, else the notice setup's texts."""
    setup = portal_setup(request)
    published = report_selectors.published_announcement(setup.incident) if setup else None
    return render(request, "portal/announcement.html", {"published": published})


def faq(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/faq.html")


# --- Signed-in pages ------------------------------------------------------------------------------------
@signed_in
@never_cache
def me(request: HttpRequest) -> HttpResponse:
    notice = _notice(request)
    return render(
        request,
        "portal/me.html",
        {
            "to": notice_selectors.addressee(notice),
            "people": redress.overview(notice, _language()),
            "requests": redress.requests_of(notice),
            "claims": redress.claims_of(notice),
            "closed": redress_services.setup_closed(setup_of(notice)),
        },
    )


@signed_in
@require_POST
def todo(request: HttpRequest) -> HttpResponse:
    notice = _notice(request)
    try:
        person = int(request.POST.get("person", ""))
        redress_services.tick_todo(
            notice=notice,
            person=person,
            item=request.POST.get("item", ""),
            done=request.POST.get("done") == "1",
        )
    except (ValueError, redress_services.NotFound):
        return render(request, "portal/not_found.html", status=404)
    return HttpResponseRedirect(reverse("portal:me") + f"#person-{person}")


def _option_label(option: Option) -> str:
    label = option.label_en if _language() == "en" else option.label_ja
    return (
        f"{label}（{option.amount_yen:,}{_('円分')}）"
        if _language() == "ja"
        else f"{label} ({option.amount_yen:,} yen)"
    )


@signed_in
@never_cache
def compensation(request: HttpRequest, person: int) -> HttpResponse:
    """Choose → confirm → receipt. The receipt shows a gift code once; it is not kept in the session."""
    notice = _notice(request)
    try:
        subject = redress_services.person_of(notice, person)
    except redress_services.NotFound:
        return render(request, "portal/not_found.html", status=404)
    status = next((s for s in redress.overview(notice, _language()) if s.person.number == person), None)
    if status is None:
        return render(request, "portal/not_found.html", status=404)
    options = redress.catalog(notice.incident_id)
    vouchers = {o.key for o in options if o.kind == Option.Kind.VOUCHER}
    to = notice_selectors.addressee(notice)
    initial = {
        "name": to.get("name", ""),
        "postal_code": to.get("postal_code", ""),
        "address": to.get("address", ""),
    }
    form = ChoiceForm(
        request.POST or None,
        initial=initial,
        options=[(o.key, _option_label(o)) for o in options],
        voucher_keys=vouchers,
    )
    context: dict[str, Any] = {
        "person": status.person,
        "choice": status.choice,
        "options": options,
        "form": form,
        "closed": redress_services.setup_closed(setup_of(notice)),
        "subject": subject.pk,
    }
    if request.method == "POST" and form.is_valid():
        chosen = next(o for o in options if o.key == form.cleaned_data["option"])
        context["chosen"] = chosen
        address = {k: form.cleaned_data[k] for k in ("name", "postal_code", "address")}
        if request.POST.get("confirm") != "1":
            return render(request, "portal/compensation_confirm.html", {**context, "address": address})
        try:
            result = redress_services.choose(
                notice=notice,
                person=person,
                option_key=chosen.key,
                address=address if chosen.kind == Option.Kind.VOUCHER else None,
                actor=f"portal:notice:{notice.pk}",
            )
        except redress_services.RedressError as error:
            context["error"] = str(error)
            return render(request, "portal/compensation.html", context, status=409)
        return render(
            request,
            "portal/compensation_done.html",
            {**context, "result": result, "choice": result.choice, "code": result.code},
        )
    return render(request, "portal/compensation.html", context)


@signed_in
@never_cache
def new_request(request: HttpRequest) -> HttpResponse:
    notice = _notice(request)
    form = RequestForm(
        request.POST or None, initial={"kind": request.GET.get("kind", "")}, people=_people_choices(notice)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        contact = {
            "postal_code": data["new_postal_code"],
            "address": data["new_address"],
            "phone": data["new_phone"],
            "email": data["new_email"],
        }
        try:
            made = redress_services.file_request(
                notice=notice,
                kind=data["kind"],
                person=data["person"],
                text=data["text"],
                contact=contact,
                actor=f"portal:notice:{notice.pk}",
            )
        except redress_services.NotFound:
            return render(request, "portal/not_found.html", status=404)
        except redress_services.RedressError as error:
            form.add_error(None, str(error))
        else:
            return render(request, "portal/request_done.html", {"made": made})
    return render(request, "portal/request.html", {"form": form})


@signed_in
@never_cache
def new_claim(request: HttpRequest) -> HttpResponse:
    notice = _notice(request)
    form = ClaimForm(request.POST or None, request.FILES or None, people=_people_choices(notice))
    upload_error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account = _account(data)
            uploads = [check_upload(upload.read()) for upload in request.FILES.getlist("evidence")[:6]]
            claim = redress_services.file_claim(
                notice=notice,
                person=data["person"],
                kind=data["kind"],
                amount_yen=data["amount_yen"],
                description=data["description"],
                occurred_on=data["occurred_on"],
                account=account,
                uploads=uploads,
                client=access.client_address(request),
                actor=f"portal:notice:{notice.pk}",
            )
        except PayeeError as error:
            form.add_error(error.field, error.message)
        except UploadError as error:
            upload_error = str(error)
        except redress_services.NotFound:
            return render(request, "portal/not_found.html", status=404)
        except redress_services.RedressError as error:
            form.add_error(None, str(error))
        else:
            return HttpResponseRedirect(reverse("portal:claim", args=[claim.reference]))
    status = 400 if request.method == "POST" else 200
    return render(
        request, "portal/claim_new.html", {"form": form, "upload_error": upload_error}, status=status
    )


def _account(data: dict[str, Any]) -> Account:
    """The account an AccountForm holds, checked (zengin-code bank and branch, 全銀 kana name)."""
    return check_account(
        bank_code=data["bank_code"],
        branch_code=data["branch_code"],
        account_type=data["account_type"],
        account_number=data["account_number"],
        holder=data["holder"],
    )


@signed_in
@never_cache
def claim(request: HttpRequest, reference: str) -> HttpResponse:
    """A claim's status; when the bank returned the transfer, a form to correct the account (POST)."""
    notice = _notice(request)
    found = redress.claim_of(notice, reference)
    if found is None:
        return render(request, "portal/not_found.html", status=404)
    returned = found.status == Claim.Status.RETURNED
    form = AccountForm(request.POST or None) if returned else None
    if request.method == "POST":
        if form is None:
            return render(request, "portal/claim.html", {"claim": found}, status=409)
        if form.is_valid():
            try:
                payouts.correct_account(
                    claim=found,
                    account=_account(form.cleaned_data),
                    actor=f"portal:notice:{notice.pk}",
                    by="portal",
                )
            except PayeeError as error:
                form.add_error(error.field, error.message)
            except payouts.NotReturned:  # finance corrected it meanwhile: the page shows where it stands
                pass
            if form.is_valid():
                return HttpResponseRedirect(reverse("portal:claim", args=[found.reference]))
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/claim.html", {"claim": found, "form": form}, status=status)


@csrf_exempt  # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click" with no form token
@never_cache
def reminders_off(request: HttpRequest, token: str) -> HttpResponse:
    """The one-click "no more reminders" link of reminder e-mails. GET asks (a link scanner must not
    unsubscribe anyone); POST records it. Either way the page names nobody."""
    if request.method == "POST":
        done = notice_services.reminders_off(token)
        return render(request, "portal/reminders_off.html", {"done": done}, status=200 if done else 404)
    return render(request, "portal/reminders_off.html", {"ask": True})


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "portal/not_found.html", status=404)
