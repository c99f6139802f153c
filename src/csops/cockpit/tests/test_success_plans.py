import datetime as dt

from csops.cockpit.actions import add_objective, create_success_plan, seed_success_plans
from csops.cockpit.models import Objective, SuccessPlan
from csops.core.models import AuditEntry
from csops.customers.models import Account
from csops.health.features import success_plan_status

TODAY = dt.date.today()


def test_plan_status_feeds_the_outcomes_measure(seeded, users):
    growth = list(Account.objects.filter(segment__name__in=["Growth", "Strategic"])[:3])
    if len(growth) < 3:
        growth = list(Account.objects.all()[:3])
    active, draft, empty_active = growth
    plan = create_success_plan(active, actor=users["csm"], name="ROI", status="active")
    add_objective(plan, actor=users["csm"], name="Faster releases", stage="CI")
    create_success_plan(draft, actor=users["csm"], name="Draft", status="draft")
    create_success_plan(empty_active, actor=users["csm"], name="No objectives", status="active")
    status = success_plan_status(TODAY)
    assert status[active.pk] == "active" and status[draft.pk] == "draft"
    assert empty_active.pk not in status  # active but no objective: counts as no plan (red)
    assert AuditEntry.objects.filter(object_repr="Faster releases", verb="create").exists()


def test_success_plan_pages(seeded, client_as):
    account = Account.objects.first()
    url = f"/cockpit/accounts/{account.pk}/success-plans/"
    assert (
        client_as("account_owner").post(url, {"name": "x", "type": "roi", "status": "draft"}).status_code
        == 403
    )
    assert client_as("csm").post(url, {"name": "", "type": "roi", "status": "draft"}).status_code == 400
    assert (
        client_as("csm").post(url, {"name": "Adoption", "type": "roi", "status": "draft"}).status_code == 302
    )
    plan = SuccessPlan.objects.get(name="Adoption")
    bad = client_as("csm").post(
        f"/cockpit/success-plans/{plan.pk}/objectives/", {"name": "Ship", "status": "x"}
    )
    assert bad.status_code == 400 and not Objective.objects.exists()
    client_as("csm").post(
        f"/cockpit/success-plans/{plan.pk}/objectives/",
        {"name": "Ship weekly", "status": "in_progress", "due": "2027-01-31"},
    )
    client_as("csm").post(f"/cockpit/success-plans/{plan.pk}/status/", {"status": "active"})
    plan.refresh_from_db()
    assert plan.status == "active" and plan.objectives.get().name == "Ship weekly"
    client_as("csm").post(f"/cockpit/success-plans/{plan.pk}/status/", {"status": "bogus"})
    plan.refresh_from_db()
    assert plan.status == "active"
    page = client_as("viewer").get(account.get_absolute_url()).content.decode()
    assert "Ship weekly" in page and "Success plans" in page


def test_seeded_plans(seeded):
    made = seed_success_plans(seed=3)
    assert made == SuccessPlan.objects.count()
    assert seed_success_plans(seed=3) == made and SuccessPlan.objects.count() == made
