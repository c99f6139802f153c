"""A CS Ops request end to end in the Debian Chromium: filed through the intake form, triaged by the
workstream lead from the weekly triage list, moved across the board with the keyboard to In_Process,
to Awaiting Feedback (the refusal leads to the form for the summary and the reviewer), then to
Completed after the closing checklist; and a card dragged onto another column."""

from __future__ import annotations

import re

import pytest

from csops.customers.tests import test_browser
from csops.requests import actions
from csops.requests.models import OpsRequest, State

pytestmark = pytest.mark.browser

# The shared Chromium and a tab on the live server (they also allow the ORM in the test thread).
browser = test_browser.browser
page = test_browser.page
expect, log_in = test_browser.expect, test_browser.log_in


def log_out(tab) -> None:
    tab.get_by_role("button", name="Log out").click()
    expect(tab).to_have_url(re.compile(r"/login/"))


def move_with_keyboard(tab, pk: int, presses: int) -> None:
    """Focus the card's 'Move to' list, step down to the label, tab to its button and press Enter."""
    select = tab.get_by_label(f"Move #{pk} to")
    select.focus()
    for _ in range(presses):
        tab.keyboard.press("ArrowDown")
    tab.keyboard.press("Tab")
    expect(tab.locator(f"#request-{pk} button")).to_be_focused()
    tab.keyboard.press("Enter")


def test_filed_triaged_and_moved_to_completed_with_the_keyboard(
    live_server, transactional_db, people, gainsight, page
):
    status = page.locator("#board-status")

    # Anyone files: the requester names the workstream, so its lead sees it at the weekly triage.
    log_in(page, people["requester"].username)
    page.get_by_role("link", name="CS Ops requests").click()
    page.get_by_role("link", name="New request").first.click()
    page.get_by_label("Description").fill("The renewal CTA needs the renewal date.")
    page.get_by_label("Workstream").select_option(label="Gainsight")
    title = page.get_by_label("Title")
    title.fill("Add the renewal date to the renewal CTA")
    title.press("Enter")  # submits the form
    expect(page.locator(".messages")).to_contain_text("the lead of Gainsight reviews it at the weekly triage")
    request = OpsRequest.objects.get()
    expect(page.locator("#state")).to_have_text("Triage")
    log_out(page)

    # The lead triages it from the weekly triage list.
    log_in(page, people["lead"].username)
    page.goto("/requests/triage/")
    page.get_by_role("link", name=str(request)).click()
    triage = page.locator("#triage")
    triage.get_by_label("Move to").select_option(label="Ready_for_Assignment")
    triage.get_by_label("Assignee").select_option(label="Wes (wes)")
    triage.get_by_label("Weight").select_option("3")
    triage.get_by_role("button", name="Triage").click()
    expect(page.locator(".messages")).to_contain_text("triaged")
    expect(page.locator("#state")).to_have_text("Ready_for_Assignment")
    log_out(page)

    # The assignee moves it on the board with the keyboard: Ready_for_Assignment -> In_Process.
    log_in(page, people["worker"].username)
    page.goto("/requests/")
    card = page.locator(f"#request-{request.pk}")
    expect(page.locator("section[data-state=ready_for_assignment]")).to_contain_text(request.title)
    move_with_keyboard(page, request.pk, presses=1)  # Need_More_Info, In_Process
    expect(status).to_have_text(f"{request} moved to In_Process.")
    expect(page.locator("section[data-state=in_process]").locator(f"#request-{request.pk}")).to_be_visible()
    expect(page.get_by_label(f"Move #{request.pk} to")).to_be_focused()  # the focus stays on the card
    expect(page.locator("section[data-state=in_process] [data-count]")).to_have_text("1")

    # To Awaiting Feedback: refused without a summary and a reviewer; the message links to the form.
    move_with_keyboard(page, request.pk, presses=1)  # Need_More_Info, Awaiting Feedback
    expect(status).to_contain_text("was not moved to Awaiting Feedback")
    expect(status).to_contain_text("Write the resolution summary before asking for feedback.")
    expect(status).to_contain_text("Name the peer reviewer.")
    link = status.get_by_role("link", name="Open the feedback form")
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/requests/{request.pk}/#feedback$"))
    feedback = page.locator("#feedback")
    feedback.get_by_label("Resolution summary").fill("Added the field to the CTA layout and its rule.")
    feedback.get_by_label("Peer reviewer").select_option(label="Rita (rita)")
    feedback.get_by_role("button", name="Ask for feedback").click()
    expect(page.locator("#state")).to_have_text("Awaiting Feedback")
    expect(page.locator("#reviewer")).to_have_text("Rita")

    # The closing checklist, then Completed from the board.
    checklist = page.locator("#checklist")
    checklist.get_by_label("Documentation (handbook) updated").check()
    checklist.get_by_label("Changelog entry").fill("https://example.com/changelog/42")
    checklist.get_by_label("Stakeholders told").check()
    checklist.get_by_label("Workstream lead told, with a summary").check()
    checklist.get_by_role("button", name="Save the checklist").click()
    expect(page.locator("#missing")).to_contain_text("Every item is done")
    page.get_by_role("link", name="Board").first.click()
    move_with_keyboard(page, request.pk, presses=2)  # In_Process, Blocked, Completed
    expect(status).to_have_text(f"{request} moved to Completed.")
    expect(page.locator("section[data-state=completed]")).to_contain_text(request.title)
    expect(card.locator("form.move")).to_have_count(0)  # closed: it moves nowhere
    request.refresh_from_db()
    assert request.state == State.COMPLETED and request.is_closed
    assert [t.to_state for t in request.transitions.all()] == [
        "triage",
        "ready_for_assignment",
        "in_process",
        "awaiting_feedback",
        "completed",
    ]

    # A card dragged onto a column moves too; onto one the workflow does not allow, it is told why.
    other = actions.triage(
        actions.file_request(actor=people["requester"], title="Dragged", description="A drag"),
        actor=people["lead"],
        workstream=gainsight,
        assignee=people["worker"],
    )
    page.reload()
    page.locator(f"#request-{other.pk}").drag_to(page.locator("section[data-state=triage]"))
    expect(status).to_contain_text("A request does not move from Ready_for_Assignment to Triage.")
    page.locator(f"#request-{other.pk}").drag_to(page.locator("section[data-state=in_process]"))
    expect(status).to_have_text(f"{other} moved to In_Process.")
    expect(page.locator("section[data-state=in_process]")).to_contain_text("Dragged")
    assert OpsRequest.objects.get(pk=other.pk).state == State.IN_PROCESS
