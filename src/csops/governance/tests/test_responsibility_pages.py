"""The core responsibilities tracker's pages: the list (badges with text, filters, search, a pinned
query count), a process with its history and forms, who may post what, refused input naming the
field, and the leadership report as HTML and as a real PDF."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from csops.core import pdf
from csops.governance import responsibilities as tracker
from csops.governance.models import CoreProcess, Rag
from csops.governance.responsibility_demo import seed_processes

LIST = "/governance/responsibilities/"
REPORT = "/governance/responsibilities/report/"


@pytest.fixture
def demo(users):
    seed_processes()
    return {p.name: p for p in CoreProcess.objects.select_related("owner")}


@pytest.fixture
def process(users) -> CoreProcess:
    return tracker.add_process(actor=users["admin"], name="CS KPIs", owner=users["csm"])


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def pdf_text(content: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(content))
    return len(reader.pages), re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_everyone_reads_the_list_worst_first_with_the_status_in_words(client_as, demo):
    response = client_as("viewer").get(LIST)
    assert response.status_code == 200
    page = text(response)
    assert '<span class="pill red">Red</span>' in page and '<span class="pill green">Green</span>' in page
    assert page.index("CS KPIs") < page.index("Documentation") < page.index("Policy management")
    assert "2 red" in page and "3 yellow" in page
    assert 'href="/governance/responsibilities/report.pdf"' in page
    assert 'href="/governance/responsibilities/new/"' not in page  # the viewer adds nothing
    assert 'href="/governance/responsibilities/new/"' in text(client_as("admin").get(LIST))


def test_the_list_filters_by_status_and_owner_and_searches(client_as, demo, users):
    viewer = client_as("viewer")
    page = text(viewer.get(LIST, {"status": ["red"]}))
    assert "CS KPIs" in page and "Product analytics" in page and "Documentation" not in page
    owner = demo["Documentation"].owner
    page = text(viewer.get(LIST, {"owner": owner.username}))
    owned = CoreProcess.objects.filter(owner=owner).count()
    assert f"Core responsibilities <small>{owned}</small>" in page
    page = text(viewer.get(LIST, {"q": "service ping"}))
    assert "Core responsibilities <small>1</small>" in page and "Product analytics" in page
    assert viewer.get(LIST, {"status": ["amber"]}).status_code == 400
    assert viewer.get(LIST, {"owner": "nobody"}).status_code == 400
    csv = viewer.get(LIST, {"export": "csv", "status": ["yellow"]}).getvalue().decode()
    assert csv.splitlines()[0] == "Process,Status,Owner,Days in status,Reason,Plan"
    assert "Renewal operations,Yellow," in csv and "pill" not in csv


def test_the_list_takes_the_same_queries_however_many_processes(client_as, demo, users,
                                                               django_assert_max_num_queries):
    viewer = client_as("viewer")
    viewer.get(LIST)
    for n in range(30):
        tracker.add_process(actor=users["admin"], name=f"Process {n}", owner=users["csm"], status=Rag.RED,
                            reason="r", plan="p")
    with django_assert_max_num_queries(6):
        response = viewer.get(LIST, {"per_page": 50})
    assert text(response).count('class="pill red"') >= 32


def test_a_process_page_shows_its_history_and_the_forms_its_reader_may_use(client_as, demo):
    kpis = demo["CS KPIs"]
    page = text(client_as("viewer").get(kpis.get_absolute_url()))
    assert "Status history <small>3</small>" in page and "leaders trust neither" in page
    assert "red for 12 days" in page.lower() or "Red for 12 days" in page
    assert "Update the status" not in page
    admin_page = text(client_as("admin").get(kpis.get_absolute_url()))
    assert "Update the status" in admin_page and "Change the owner" in admin_page
    assert client_as("viewer").get("/governance/responsibilities/999999/").status_code == 404


def test_the_owner_updates_the_status_and_refused_input_names_the_field(client_as, process, users):
    owner = client_as("csm")
    url = f"/governance/responsibilities/{process.pk}/status/"
    response = owner.post(url, {"status": "red", "reason": "", "plan": ""})
    assert response.status_code == 400
    page = text(response)
    assert re.search(r'id="id_reason".*?Say why the process is red', page)
    assert re.search(r'id="id_plan".*?Give the plan', page)
    assert process.history.count() == 1
    response = owner.post(url, {"status": "red", "reason": "Two numbers.", "plan": "One by Friday."})
    assert response.status_code == 302 and response["Location"] == process.get_absolute_url()
    process.refresh_from_db()
    assert process.status == Rag.RED and process.history.count() == 2
    same = {"status": "red", "reason": "Two numbers.", "plan": "One by Friday."}
    response = owner.post(url, same, follow=True)
    assert "Nothing changed" in text(response) and process.history.count() == 2
    assert owner.post(url, {"status": "amber"}).status_code == 400


def test_who_may_post_what(client_as, process, users):
    base = f"/governance/responsibilities/{process.pk}"
    viewer, owner = client_as("viewer"), client_as("csm")
    assert viewer.post(f"{base}/status/", {"status": "green"}).status_code == 403
    assert viewer.post(f"{base}/edit/", {"description": "x"}).status_code == 403
    assert owner.post(f"{base}/owner/", {"owner": users["viewer"].pk}).status_code == 403
    assert owner.get("/governance/responsibilities/new/").status_code == 403
    assert viewer.get(f"{base}/status/").status_code == 405
    # The owner edits the description; the name field is an admin's, so it is not even there.
    response = owner.post(f"{base}/edit/", {"description": "Retention KPIs.", "name": "Renamed"})
    assert response.status_code == 302
    process.refresh_from_db()
    assert (process.name, process.description) == ("CS KPIs", "Retention KPIs.")
    admin = client_as("admin")
    response = admin.post(f"{base}/owner/", {"owner": users["pool"].pk})
    assert response.status_code == 400 and re.search(r'id="id_owner".*?Select a valid choice', text(response))
    assert admin.post(f"{base}/owner/", {"owner": users["viewer"].pk}).status_code == 302
    process.refresh_from_db()
    assert process.owner == users["viewer"]
    assert admin.post(f"{base}/edit/", {"name": "", "description": ""}).status_code == 400


def test_an_admin_adds_a_process_with_errors_naming_the_fields(client_as, process, users):
    admin = client_as("admin")
    assert admin.get("/governance/responsibilities/new/").status_code == 200
    response = admin.post("/governance/responsibilities/new/",
                          {"name": "cs kpis", "owner": users["csm"].pk, "status": "yellow"})
    assert response.status_code == 400
    page = text(response)
    assert re.search(r'id="id_name".*?already a process named', page)
    assert re.search(r'id="id_reason".*?Say why the process is yellow', page)
    response = admin.post("/governance/responsibilities/new/", {
        "name": "Documentation", "owner": users["viewer"].pk, "status": "yellow",
        "reason": "Old pages.", "plan": "Two a week.", "description": "",
    })
    added = CoreProcess.objects.get(name="Documentation")
    assert response.status_code == 302 and response["Location"] == added.get_absolute_url()
    assert (added.status, added.owner) == (Rag.YELLOW, users["viewer"])


def test_the_report_lists_reds_then_yellows_with_reason_and_plan_then_greens(client_as, demo):
    response = client_as("viewer").get(REPORT)
    assert response.status_code == 200
    page = text(response)
    today = tracker.business_today()
    assert f'datetime="{today.isoformat()}"' in page
    order = ["CS KPIs", "Product analytics and renewal strategies", "Renewal operations", "Documentation",
             "Request intake and triage", "Customer programs", "Policy management"]
    positions = [page.index(name) for name in order]
    assert positions == sorted(positions)
    assert "Leaders trust neither" in page.replace("leaders trust neither", "Leaders trust neither")
    assert "Back-fill from the instance exports" in page
    assert page.index("Back-fill") < page.index("Renewal operations")
    assert "The CTA dashboard times out" not in page  # a green's old reason is history, not the report


def test_the_report_as_pdf_is_a_one_page_pdf_with_the_red_processes(client_as, demo):
    viewer = client_as("viewer")
    for response in (viewer.get(REPORT, {"format": "pdf"}), viewer.get(f"{LIST}report.pdf")):
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
        assert response["Content-Disposition"].startswith('inline; filename="core-responsibilities-')
        pages, content = pdf_text(response.content)
        assert pages == 1
        assert "CS KPIs" in content and "Product analytics and renewal strategies" in content
        assert "Back-fill from the instance exports" in content
        order = [content.index(name) for name in ("CS KPIs", "Renewal operations", "Policy management")]
        assert order == sorted(order)


def test_chromium_prints_the_same_report_where_weasyprint_cannot(client_as, demo, monkeypatch):
    if not pdf.chromium_path().exists():
        pytest.skip("no Chromium here")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setitem(__import__("sys").modules, "weasyprint", None)  # import fails, as without Pango
    response = client_as("viewer").get(REPORT, {"format": "pdf"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    pages, content = pdf_text(response.content)
    assert pages == 1 and "CS KPIs" in content and "Product analytics" in content


def test_without_any_engine_the_pdf_is_a_503_saying_why(client_as, demo, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "weasyprint", None)
    monkeypatch.setenv("CSOPS_CHROMIUM", "/nonexistent/chromium")
    response = client_as("viewer").get("/governance/responsibilities/report.pdf")
    assert response.status_code == 503 and b"no Chromium at /nonexistent/chromium" in response.content


def test_the_nav_links_the_tracker(client_as, users):
    assert 'href="/governance/responsibilities/">Responsibilities</a>' in text(client_as("viewer").get(LIST))
