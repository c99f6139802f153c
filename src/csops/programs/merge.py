"""Email templates: merge fields checked at configuration time, rendered per recipient.

Templates use Django's template language restricted to the merge fields below and the `if` tag:
`Hello {{ contact.first_name }}, book time with {{ cse.name }}: {{ calendly_link }}`. The HTML
part is escaped; when a template has none, it is made from the text (paragraphs and links).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import VariableNode
from django.template.defaulttags import IfNode
from django.utils.safestring import mark_safe

MERGE_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("first_name", "last_name", "name", "email", "title"),
    "account": ("name",),
    "csm": ("name", "email"),
    "cse": ("name", "email"),
    "sender": ("name", "email"),
    "organisation": ("name",),
    "owner": ("name", "email"),  # the account owner who filed a CSE engagement request
    "engagement": ("summary", "action_items", "resources"),  # a CSE engagement's follow-up
    "event": ("title", "kind", "starts", "duration", "region"),  # a webinar or lab (events app)
    "calendly_link": (),
    "survey_link": (),
    "events_link": (),  # the public calendar of webinars and labs
    "join_link": (),
    "calendar_link": (),  # an event's .ics
    "recording_link": (),
    "deck_link": (),
    "unsubscribe_link": (),
}
URL = re.compile(r"https?://[^\s<>\"')]+")

_engine = Engine(debug=False, autoescape=True, libraries={}, builtins=["django.template.defaulttags"])
_text_engine = Engine(debug=False, autoescape=False, libraries={}, builtins=["django.template.defaulttags"])


class TemplateError(ValueError):
    pass


def _compile(source: str, part: str, engine: Engine) -> Template:
    try:
        return engine.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{part}: {exc}") from None


def _check_nodes(nodelist, part: str) -> None:
    for node in nodelist:
        if isinstance(node, VariableNode):
            _check_variable(node.filter_expression, part)
        elif isinstance(node, IfNode):
            for condition, body in node.conditions_nodelists:
                for variable in _condition_variables(condition):
                    _check_path(variable, part)
                _check_nodes(body, part)
        elif node.__class__.__name__ != "TextNode":
            raise TemplateError(
                f"{part}: only merge fields and {{% if %}} are allowed, not {node.token.contents!r}"
            )


def _condition_variables(condition) -> list[str]:
    if condition is None:
        return []
    found = []
    for attribute in ("first", "second"):
        if (child := getattr(condition, attribute, None)) is not None:
            found += _condition_variables(child)
    value = getattr(condition, "value", None)
    variable = getattr(getattr(value, "var", None), "var", None)
    if isinstance(variable, str):
        found.append(variable)
    return found


def _check_variable(filter_expression, part: str) -> None:
    if filter_expression.filters:
        raise TemplateError(f"{part}: filters are not allowed in {{{{ {filter_expression.token} }}}}")
    variable = getattr(filter_expression.var, "var", None)
    if isinstance(variable, str):
        _check_path(variable, part)


def _check_path(path: str, part: str) -> None:
    root, _, attribute = path.partition(".")
    known = ", ".join(sorted(MERGE_FIELDS))
    if root not in MERGE_FIELDS:
        raise TemplateError(f"{part}: unknown merge field {{{{ {path} }}}} (known: {known})")
    allowed = MERGE_FIELDS[root]
    if (attribute and attribute not in allowed) or (not attribute and allowed):
        choices = ", ".join(f"{root}.{a}" for a in allowed) or root
        raise TemplateError(f"{part}: unknown merge field {{{{ {path} }}}} (use {choices})")


def check_template(template) -> None:
    """Refuse a template whose parts do not compile or use unknown merge fields."""
    for part, source, engine in (
        ("subject", template.subject, _text_engine),
        ("text", template.text, _text_engine),
        ("html", template.html, _engine),
    ):
        if source:
            _check_nodes(_compile(source, part, engine).nodelist, part)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def text_to_html(text: str) -> str:
    """Paragraphs and clickable links from plain text."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]

    def paragraph(p: str) -> str:
        escaped = html.escape(p)
        linked = URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        return "<p>" + linked.replace("\n", "<br>\n") + "</p>"  # short lines: SMTP limits them

    return "\n".join(paragraph(p) for p in paragraphs)


def render(template, context: dict[str, Any]) -> Rendered:
    """The template for one recipient. Links in the context are used as they are (tracked links)."""
    text_context = Context(context, autoescape=False)
    subject = " ".join(_text_engine.from_string(template.subject).render(text_context).split())
    text = _text_engine.from_string(template.text).render(text_context).strip() + "\n"
    if template.html:
        safe = {k: mark_safe(v) if k.endswith("_link") and v else v for k, v in context.items()}
        body = _engine.from_string(template.html).render(Context(safe))
    else:
        body = text_to_html(text)
    return Rendered(subject=subject, text=text, html=body)
