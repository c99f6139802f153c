"""The demo's CS Ops requests: the team leads its workstreams as configuration, about 25 requests
walk the workflow through the actions over six weeks, and the triage policies have run once."""

from __future__ import annotations

from collections import Counter

from django.test import Client

from csops.core.models import AuditEntry, User
from csops.requests.models import OpsRequest, RequestComment, RequestTransition, State, Workstream
from csops.requests.synthetic import STORIES, seed_ops_requests


def test_the_demo_fills_the_board_through_the_actions(users, django_assert_max_num_queries):
    filed, report = seed_ops_requests()
    assert filed == len(STORIES) == OpsRequest.objects.count() >= 25
    leads = dict(Workstream.objects.values_list("name", "lead__username"))
    assert leads["Gainsight"] == "ops.lena" and None not in leads.values()

    states = Counter(OpsRequest.objects.values_list("state", flat=True))
    assert set(states) == set(State.values)  # every column has a card
    assert OpsRequest.objects.filter(workstream__isnull=True, state=State.TRIAGE).count() == 2
    assert OpsRequest.objects.filter(interrupt=True).count() == 2
    completed = OpsRequest.objects.filter(state=State.COMPLETED)
    assert all(r.documentation_updated and r.lead_notified for r in completed)
    assert OpsRequest.objects.filter(
        state=State.COMPLETED, needs_peer_review=True, peer_review_done=True
    ).exists()
    assert not OpsRequest.objects.filter(state=State.AWAITING_FEEDBACK, reviewer__isnull=True).exists()
    # Every step was an action: a transition and an audit entry each, each at its own day.
    assert RequestTransition.objects.count() > 2 * len(STORIES)
    assert AuditEntry.objects.filter(source="demo", content_type__model="opsrequest").count() > len(STORIES)
    ages = sorted({(r.created_at.date()) for r in OpsRequest.objects.all()})
    assert (ages[-1] - ages[0]).days >= 30

    # The triage policies ran: the stale Need_More_Info nudged, the unweighted In_Process flagged.
    nudged = RequestComment.objects.filter(policy="Nudge Need_More_Info after 7 days")
    assert [c.request.title for c in nudged] == ["Calendly links of the Scale CSEs per geo"]
    assert RequestComment.objects.filter(policy="Flag In_Process without weight").count() == 1
    assert report is not None

    # Again: the leads stay, nothing is filed twice.
    assert seed_ops_requests() == (0, None)
    assert OpsRequest.objects.count() == len(STORIES)

    client = Client()
    client.force_login(users["admin"])
    with django_assert_max_num_queries(6):
        page = client.get("/requests/").content.decode()
    assert page.count('class="req-card') == len(STORIES)
    triage = client.get("/requests/triage/").content.decode()
    assert "Calendly links of the Scale CSEs per geo" in triage and "Survey page in Japanese" in triage
    assert User.objects.filter(username__startswith="ops.").count() == 7
