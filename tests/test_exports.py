"""Export tasks: create, run, crash, double click, download rights, expiry, reaping, API, history page."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_tasks import default_task_backend

from partnercenter import scoping
from partnercenter.accounts.models import AuditEntry, User
from partnercenter.core import clock, menus
from partnercenter.core.errors import Conflict, Forbidden, ValidationFailed
from partnercenter.core.masking import anonymize
from partnercenter.exports import registry, services
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.exports.registry import Column, ExportContext, ExportKind
from tests.conftest import T0, Org
from tests.test_api import bearer, call

KIND = "test_customers"
SECRET_WORDS = ("张小明", "Alice Corp", "Acme Ltd", "a1@example.com", "13800000000")


def _rows(ctx: ExportContext):
    fail_after = ctx.params.get("fail_after")
    n = 0
    for customer in scoping.customers_for(ctx.user, at=ctx.at).order_by("account_id"):
        if fail_after is not None and n >= fail_after:
            raise RuntimeError("boom: /secret/path/in/traceback")
        yield (customer.account_id, customer.name, customer.email, customer.mobile, Decimal("-12.500000000000001"), n)
        n += 1
    for nasty in ("=SUM(A1)", "+1", "-2", "@x"):
        if fail_after is not None and n >= fail_after:
            raise RuntimeError("boom")
        yield (nasty, "", "", "", Decimal("1.5"), n)
        n += 1


TEST_KIND = ExportKind(
    code=KIND,
    label="Test customers",
    menu=menus.CUSTOMER_MANAGEMENT,
    columns=[
        Column("account_id", "Account ID"),
        Column("name", "Customer name", "sensitive_name"),
        Column("email", "Email", "sensitive_email"),
        Column("mobile", "Mobile", "sensitive_mobile"),
        Column("amount", "Amount", "amount"),
        Column("n", "N", "int"),
    ],
    rows=_rows,
    filename_stem="test-customers",
)


@pytest.fixture(autouse=True)
def export_kind(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    registry.register(TEST_KIND)
    # Tasks are created at T0; unless a test moves it, "now" is a minute later.
    with clock.frozen_at(T0 + dt.timedelta(minutes=1)):
        yield TEST_KIND
    registry.unregister(KIND)


def signed_in(client: Client, org: Org, username: str) -> Client:
    client.force_login(org.users[username], backend="django.contrib.auth.backends.ModelBackend")
    return client


def create(org: Org, username: str = "sp-a-admin", params=None, fmt: str = "csv", **kw):
    return services.create_export(org.users[username], KIND, params if params is not None else {}, fmt, **kw)


def run(task: ExportTask) -> ExportTask:
    services.run_export(str(task.pk))
    task.refresh_from_db()
    return task


def done(org: Org, username: str = "sp-a-admin", fmt: str = "csv", params=None) -> ExportTask:
    with clock.frozen_at(T0):
        task, _ = create(org, username, params, fmt)
        return run(task)


# ---- create and run -------------------------------------------------------------------------


def test_create_answers_at_once_with_a_queued_task_and_enqueues_its_run(org, django_capture_on_commit_callbacks):
    default_task_backend.clear()
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True) as callbacks:
        task, created = create(org, params={"search": "a"}, fmt="xlsx")
    assert created is True
    assert task.status == ExportStatus.QUEUED
    assert task.created_by == org.users["sp-a-admin"]
    assert task.partner == org.partners["sp-a"]
    assert task.params == {"search": "a"}
    assert task.format == "xlsx"
    assert task.created_at == T0
    assert task.file_name == "test-customers-20260310-120000.xlsx"  # billing time zone
    assert task.storage_path == f"sp-a/{task.pk}.xlsx"
    assert not task.path.exists()
    assert len(callbacks) == 1
    [result] = default_task_backend.results
    assert result.task.name == "run_export"
    assert result.args == [str(task.pk)]
    assert AuditEntry.objects.filter(action="export.create", target=str(task.pk)).count() == 1


def test_run_writes_the_file_and_marks_succeeded(org):
    task = done(org)
    assert task.status == ExportStatus.SUCCEEDED
    assert task.row_count == 3 + 4  # sp-a's customers a1, a2, a3 and four nasty rows
    assert task.path.is_file()
    assert not task.part_path.exists()
    assert task.file_size == task.path.stat().st_size > 0
    assert task.started_at == task.finished_at == T0
    assert task.expires_at == T0 + dt.timedelta(days=7)
    assert task.attempts == 1
    data = task.path.read_bytes()
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "Account ID,Customer name,Email,Mobile,Amount,N"
    assert f"a1,{anonymize('张小明', kind='customer')},{anonymize('a1@example.com', kind='email')}," in text
    assert "-12.500000000000001" in text
    assert "'=SUM(A1)" in text and "\n=SUM" not in text
    ids = [line.split(",")[0] for line in text.splitlines()[1:]]
    assert ids == ["a1", "a2", "a3", "'=SUM(A1)", "'+1", "'-2", "'@x"]  # the owner's scope: no sp-b customer
    for word in SECRET_WORDS:
        assert word.encode() not in data


def test_the_export_uses_the_owners_scope_at_creation_time(org):
    task = done(org, "sp-a-account_manager")  # no customers assigned to this account manager
    assert task.status == ExportStatus.SUCCEEDED
    assert task.row_count == 4


def test_running_twice_is_idempotent(org):
    task = done(org)
    before = task.path.read_bytes()
    assert services.run_export(str(task.pk)) is None
    task.refresh_from_db()
    assert task.status == ExportStatus.SUCCEEDED
    assert task.attempts == 1
    assert task.path.read_bytes() == before


def test_a_crash_mid_run_fails_the_task_and_leaves_no_file(org):
    task = done(org, params={"fail_after": 2})
    assert task.status == ExportStatus.FAILED
    assert task.error == services.GENERIC_FAILURE
    assert "boom" not in task.error and "Traceback" not in task.error
    assert not task.path.exists()
    assert not task.part_path.exists()
    assert list(task.path.parent.iterdir()) == []
    assert task.finished_at is not None and task.expires_at is None


def test_a_task_reaped_while_its_worker_still_writes_keeps_no_file(org):
    with clock.frozen_at(T0):
        task, _ = create(org)

    def reaping_rows(ctx):
        yield ("x", "", "", "", Decimal(1), 0)
        ExportTask.objects.filter(pk=ctx.task_id).update(status=ExportStatus.FAILED, error=services.STALE_FAILURE)
        yield ("y", "", "", "", Decimal(1), 1)

    registry.register(ExportKind(**{**TEST_KIND.__dict__, "rows": reaping_rows}))
    task = run(task)
    assert task.status == ExportStatus.FAILED
    assert task.error == services.STALE_FAILURE
    assert not task.path.exists() and not task.part_path.exists()


def test_an_unknown_kind_or_format_or_menu_is_refused(org):
    admin = org.users["sp-a-admin"]
    with pytest.raises(ValidationFailed) as e:
        services.create_export(admin, "nope", {}, "csv")
    assert e.value.code == "unknown_export_kind"
    with pytest.raises(ValidationFailed) as e:
        services.create_export(admin, KIND, {}, "pdf")
    assert e.value.code == "invalid_format"
    with pytest.raises(ValidationFailed):
        services.create_export(admin, KIND, {"x": Decimal(1)}, "csv")  # not JSON
    with pytest.raises(Forbidden):
        services.create_export(org.users["sp-a-finance"], KIND, {}, "csv")  # lacks customer_management
    assert ExportTask.objects.count() == 0


# ---- double click, idempotency -------------------------------------------------------------


def test_a_double_click_creates_one_task(org):
    with clock.frozen_at(T0):
        first, created1 = create(org, params={"search": "a", "page": [1, 2]})
    with clock.frozen_at(T0 + dt.timedelta(seconds=2)):
        second, created2 = create(org, params={"page": [1, 2], "search": "a"})
    assert (created1, created2) == (True, False)
    assert second.pk == first.pk
    assert ExportTask.objects.count() == 1


def test_different_options_format_or_user_make_different_tasks(org):
    with clock.frozen_at(T0):
        a, _ = create(org, params={"search": "a"})
        b, _ = create(org, params={"search": "b"})
        c, _ = create(org, params={"search": "a"}, fmt="xlsx")
        d, _ = create(org, "sp-a-operator", params={"search": "a"})
    assert len({a.pk, b.pk, c.pk, d.pk}) == 4


def test_the_same_request_later_or_after_a_failure_creates_a_new_task(org):
    with clock.frozen_at(T0):
        first, _ = create(org)
    with clock.frozen_at(T0 + dt.timedelta(seconds=11)):
        later, created = create(org)
    assert created and later.pk != first.pk
    failed = done(org, params={"fail_after": 0})
    assert failed.status == ExportStatus.FAILED
    with clock.frozen_at(T0 + dt.timedelta(seconds=1)):
        retry, created = create(org, params={"fail_after": 0})
    assert created and retry.pk != failed.pk


def test_an_idempotency_key_answers_the_same_task(org):
    with clock.frozen_at(T0):
        first, _ = create(org, idempotency_key="k-1")
    with clock.frozen_at(T0 + dt.timedelta(hours=1)):
        again, created = create(org, idempotency_key="k-1")
        assert (again.pk, created) == (first.pk, False)
        with pytest.raises(Conflict):
            create(org, params={"search": "other"}, idempotency_key="k-1")
        other_user, created = create(org, "sp-a-operator", idempotency_key="k-1")
    assert created and other_user.pk != first.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_click_creates_one_task(org):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections (PostgreSQL)")
    barrier = threading.Barrier(4)
    results: list[object] = []

    def click() -> None:
        from django.db import connection as conn

        try:
            barrier.wait()
            with clock.frozen_at(T0):
                results.append(create(org)[0].pk)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            results.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert len(set(results)) == 1, results
    assert ExportTask.objects.count() == 1


# ---- download rights ------------------------------------------------------------------------


def test_the_owner_downloads_the_exact_bytes(client, org):
    task = done(org, "sp-a-operator")
    signed_in(client, org, "sp-a-operator")
    r = client.get(reverse("exports:download", args=[task.pk]))
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == task.path.read_bytes()
    assert r["Content-Disposition"] == 'attachment; filename="test-customers-20260310-120000.csv"'
    assert r["Content-Type"] == "text/csv; charset=utf-8"


def test_the_partner_admin_downloads_the_partners_tasks_but_colleagues_do_not(client, org):
    task = done(org, "sp-a-operator")
    admin_task = done(org, "sp-a-admin", fmt="xlsx")
    url = reverse("exports:download", args=[task.pk])
    assert signed_in(Client(), org, "sp-a-admin").get(url).status_code == 200
    # Another user of the same partner does not see an operator's or the admin's file.
    colleague = signed_in(Client(), org, "sp-a-account_manager")
    assert colleague.get(url).status_code == 404
    assert colleague.get(reverse("exports:download", args=[admin_task.pk])).status_code == 404


@pytest.mark.parametrize("username", ["sp-b-admin", "dist-admin", "op", "sp-b-operator"])
def test_another_partners_user_gets_404(client, org, username):
    task = done(org)
    r = signed_in(client, org, username).get(reverse("exports:download", args=[task.pk]))
    assert r.status_code == 404
    assert task.path.read_bytes() not in r.content


def test_a_user_without_the_exports_menu_is_refused(client, org):
    task = done(org, "sp-a-operator")
    User.objects.filter(username="sp-a-operator").update(menus=[menus.CUSTOMER_MANAGEMENT])
    r = signed_in(client, org, "sp-a-operator").get(reverse("exports:download", args=[task.pk]))
    assert r.status_code == 403


def test_platform_operator_tasks_are_for_platform_operators_only(client, org):
    task = done(org, "op")
    assert task.partner is None and task.storage_path.startswith("_platform/")
    assert task.row_count == 8 + 4  # every customer
    assert signed_in(Client(), org, "op").get(reverse("exports:download", args=[task.pk])).status_code == 200
    assert signed_in(Client(), org, "sp-a-admin").get(reverse("exports:download", args=[task.pk])).status_code == 404


def test_nothing_to_download_before_success(client, org):
    with clock.frozen_at(T0):
        task, _ = create(org)
    r = signed_in(client, org, "sp-a-admin").get(reverse("exports:download", args=[task.pk]))
    assert r.status_code == 404


# ---- expiry and reaping ---------------------------------------------------------------------


def test_files_expire_after_seven_days_and_are_deleted(client, org):
    task = done(org)
    path = task.path
    with clock.frozen_at(T0 + dt.timedelta(days=7) - dt.timedelta(seconds=1)):
        assert services.purge().expired == 0
        assert (
            signed_in(Client(), org, "sp-a-admin").get(reverse("exports:download", args=[task.pk])).status_code == 200
        )
    with clock.frozen_at(T0 + dt.timedelta(days=7, seconds=1)):
        result = services.purge()
        assert result.expired == 1
        task.refresh_from_db()
        assert task.status == ExportStatus.EXPIRED
        assert not path.exists()
        r = signed_in(client, org, "sp-a-admin").get(reverse("exports:download", args=[task.pk]))
        assert r.status_code == 404
        assert services.purge().expired == 0


def test_the_history_page_expires_what_it_shows(client, org):
    task = done(org)
    with clock.frozen_at(T0 + dt.timedelta(days=8)):
        r = signed_in(client, org, "sp-a-admin").get("/exports/")
    assert f'data-task="{task.pk}" data-status="expired"' in r.content.decode()
    assert not task.path.exists()


def test_a_task_whose_worker_died_is_failed_by_purge(org):
    with clock.frozen_at(T0):
        task, _ = create(org)
        fresh, _ = create(org, params={"other": 1})
    ExportTask.objects.filter(pk__in=[task.pk, fresh.pk]).update(
        status=ExportStatus.RUNNING, started_at=T0, heartbeat_at=T0
    )
    ExportTask.objects.filter(pk=fresh.pk).update(heartbeat_at=T0 + dt.timedelta(minutes=9))
    task.path.parent.mkdir(parents=True, exist_ok=True)
    task.part_path.write_bytes(b"half a file")
    with clock.frozen_at(T0 + dt.timedelta(minutes=10, seconds=1)):
        call_command("exports", "purge")
    task.refresh_from_db()
    fresh.refresh_from_db()
    assert task.status == ExportStatus.FAILED
    assert task.error == services.STALE_FAILURE
    assert not task.part_path.exists()
    assert fresh.status == ExportStatus.RUNNING
    # The dead worker's job, if it ever ran again, changes nothing.
    assert services.run_export(str(task.pk)) is None


def test_a_task_that_never_started_is_failed_after_hours(org):
    with clock.frozen_at(T0):
        task, _ = create(org)
    with clock.frozen_at(T0 + services.QUEUED_TIMEOUT + dt.timedelta(seconds=1)):
        assert services.purge().failed == 1
    task.refresh_from_db()
    assert task.status == ExportStatus.FAILED


def test_purge_command_reports(org, capsys):
    done(org)
    with clock.frozen_at(T0 + dt.timedelta(days=30)):
        call_command("exports", "purge")
    assert "Expired 1 export file(s); failed 0 stale task(s)" in capsys.readouterr().out


# ---- API ------------------------------------------------------------------------------------


def test_api_create_answers_202_and_lists_only_the_callers_tasks(client, org):
    auth = bearer(client, "sp-a-admin")
    with clock.frozen_at(T0):
        r = call(client, "post", "/exports", auth, {"kind": KIND, "format": "xlsx", "params": {"search": "a"}})
    assert r.status_code == 202, r.content
    body = r.json()
    assert body["status"] == "queued"
    assert body["kind"] == KIND and body["kind_label"] == "Test customers"
    assert body["format"] == "xlsx" and body["params"] == {"search": "a"}
    assert body["partner"] == "sp-a" and body["created_by"] == "sp-a-admin"
    assert body["download_url"] is None
    done(org, "sp-b-admin")
    r = call(client, "get", "/exports", auth)
    assert r.status_code == 200
    assert r.json()["total"] == 1
    assert [t["id"] for t in r.json()["items"]] == [body["id"]]


def test_api_get_and_download_own_task(client, org):
    task = done(org)
    auth = bearer(client, "sp-a-admin")
    r = call(client, "get", f"/exports/{task.pk}", auth)
    assert r.status_code == 200
    assert r.json()["status"] == "succeeded"
    assert r.json()["row_count"] == 7
    assert r.json()["file_size"] == task.file_size
    assert r.json()["download_url"] == f"/api/v1/exports/{task.pk}/download"
    r = call(client, "get", f"/exports/{task.pk}/download", auth)
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == task.path.read_bytes()


def test_api_isolation_other_partners_task_is_404(client, org):
    task = done(org, "sp-b-admin")
    auth = bearer(client, "sp-a-admin")
    for path in (f"/exports/{task.pk}", f"/exports/{task.pk}/download", "/exports/not-a-uuid"):
        r = call(client, "get", path, auth)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"


def test_api_errors_are_json(client, org):
    auth = bearer(client, "sp-a-finance")
    r = call(client, "post", "/exports", auth, {"kind": KIND, "format": "csv"})
    assert r.status_code == 403 and r.json()["code"] == "menu_forbidden"
    auth = bearer(client, "sp-a-admin")
    r = call(client, "post", "/exports", auth, {"kind": "nope", "format": "csv"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_export_kind"
    r = call(client, "post", "/exports", auth, {"kind": KIND, "format": "pdf"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_format"
    User.objects.filter(username="sp-a-operator").update(menus=[menus.CUSTOMER_MANAGEMENT])
    r = call(client, "get", "/exports", bearer(client, "sp-a-operator"))
    assert r.status_code == 403


def test_api_idempotency_key(client, org):
    auth = bearer(client, "sp-a-admin")
    body = {"kind": KIND, "format": "csv", "params": {"n": 1}}
    with clock.frozen_at(T0):
        first = call(client, "post", "/exports", auth, body, HTTP_IDEMPOTENCY_KEY="abc")
    with clock.frozen_at(T0 + dt.timedelta(minutes=5)):
        again = call(client, "post", "/exports", auth, body, HTTP_IDEMPOTENCY_KEY="abc")
        clash = call(client, "post", "/exports", auth, {**body, "params": {"n": 2}}, HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert clash.status_code == 409 and clash.json()["code"] == "idempotency_key_reused"


# ---- console --------------------------------------------------------------------------------


def test_history_page_lists_tasks_with_status_and_download(client, org):
    ok = done(org)
    failed = done(org, params={"fail_after": 1})
    with clock.frozen_at(T0):
        queued, _ = create(org, params={"q": 1})
    done(org, "sp-b-admin")
    r = signed_in(client, org, "sp-a-admin").get("/exports/")
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="export-history"' in html
    statuses = re.findall(r'data-task="([^"]+)" data-status="([^"]+)"', html)
    assert sorted(statuses) == sorted(
        [(str(ok.pk), "succeeded"), (str(failed.pk), "failed"), (str(queued.pk), "queued")]
    )
    assert f'href="/exports/{ok.pk}/download"' in html
    assert ">Download</a>" in html
    assert html.count(">Download</a>") == 1
    assert "The export failed. Please try again" in html
    assert 'hx-trigger="every 3s"' in html  # a task is still queued: the page refreshes itself
    assert "2026-03-10 12:00:00" in html  # created time in the billing time zone


def test_history_page_stops_polling_and_speaks_chinese(client, org):
    done(org)
    client.cookies["django_language"] = "zh-hans"
    r = signed_in(client, org, "sp-a-admin").get("/exports/", HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert 'hx-trigger="every 3s"' not in html
    assert "<html" not in html  # the partial only
    assert ">下载</a>" in html


def test_history_shows_a_colleagues_tasks_only_to_the_admin(client, org):
    task = done(org, "sp-a-operator")
    assert str(task.pk) in signed_in(Client(), org, "sp-a-admin").get("/exports/").content.decode()
    assert str(task.pk) not in signed_in(Client(), org, "sp-a-account_manager").get("/exports/").content.decode()


def test_console_create_flashes_export_task_created(client, org, django_capture_on_commit_callbacks):
    signed_in(client, org, "sp-a-admin")
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            reverse("exports:create"),
            {"kind": KIND, "format": "xlsx", "next": "/customers/?search=a", "search": "a", "type": ["x", "y"]},
        )
    assert r.status_code == 302 and r["Location"] == "/customers/?search=a"
    task = ExportTask.objects.get()
    assert task.params == {"search": "a", "type": ["x", "y"]}
    page = client.get("/exports/")
    assert "Export task created" in page.content.decode()
    client.cookies["django_language"] = "zh-hans"
    client.post(reverse("exports:create"), {"kind": KIND, "format": "csv"})
    assert "导出任务创建成功" in client.get("/exports/").content.decode()


def test_console_create_refuses_a_foreign_next_and_a_missing_menu(client, org):
    signed_in(client, org, "sp-a-admin")
    r = client.post(reverse("exports:create"), {"kind": KIND, "format": "csv", "next": "https://evil.example/"})
    assert r["Location"] == "/exports/"
    r = signed_in(Client(), org, "sp-a-finance").post(reverse("exports:create"), {"kind": KIND, "format": "csv"})
    assert r.status_code == 403


def test_flash_created_helper(rf, org):
    from django.contrib.messages import get_messages
    from django.contrib.messages.storage.fallback import FallbackStorage

    from partnercenter.exports.views import flash_created

    request = rf.post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    flash_created(request)
    assert [str(m) for m in get_messages(request)] == ["Export task created"]


def test_params_must_be_json_safe_and_are_stored_canonically(org):
    with clock.frozen_at(T0):
        task, _ = create(org, params={"b": [1, "x"], "a": {"c": True}})
    assert json.dumps(task.params, sort_keys=True) == '{"a": {"c": true}, "b": [1, "x"]}'


def test_the_worker_job_runs_the_export(org, settings, django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True):
        task, _ = create(org, fmt="xlsx")
    task.refresh_from_db()
    assert task.status == ExportStatus.SUCCEEDED
    assert task.row_count == 7
    assert task.path.read_bytes()[:2] == b"PK"
