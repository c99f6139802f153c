"""A request's linked configuration changes count in its closing checklist."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from csops.core.models import Role, User
from csops.governance import actions as governance
from csops.governance.models import Verdict
from csops.requests import actions
from csops.requests.models import OpsRequest, State


def test_an_applied_reviewed_change_is_the_changelog_entry_and_the_peer_review(file, gainsight, people):
    request = actions.triage(file(), actor=people["lead"], workstream=gainsight, assignee=people["worker"])
    OpsRequest.objects.filter(pk=request.pk).update(needs_peer_review=True)
    request = actions.move(request, State.IN_PROCESS, actor=people["worker"])
    actions.update_checklist(request, actor=people["worker"], documentation_updated=True,
                             stakeholders_notified=True, lead_notified=True)
    change = governance.propose(
        [governance.parse_object("geos", "name: MEA", key=None)], author=people["admin"],
        title="Add MEA", why="New region.", ops_request=request, ask_review=True,
    )
    request.refresh_from_db()
    missing = actions.checklist_missing(request)
    assert set(missing) == {"changelog_entry", "peer_review_done", "change_requests"}
    assert f"!{change.number} is open" in missing["change_requests"]
    with pytest.raises(ValidationError) as refused:
        actions.move(request, State.COMPLETED, actor=people["worker"])
    assert "change_requests" in refused.value.message_dict

    reviewer = User.objects.create_user(username="admin-2", role=Role.ADMIN)
    governance.review(change, reviewer=reviewer, verdict=Verdict.APPROVE)
    assert actions.checklist_missing(request) == {}
    request = actions.move(request, State.COMPLETED, actor=people["worker"])
    assert request.state == State.COMPLETED
