from csops.core.configuration import ConfigKind, register
from csops.programs.models import CseAssignment, EmailTemplate, Program, Survey

register(
    ConfigKind("email_templates", EmailTemplate, fields=("description", "subject", "text", "html"), order=45)
)
register(
    ConfigKind(
        "surveys",
        Survey,
        fields=("description", "kind", "question", "comment_prompt", "thank_you", "expires_in_days"),
        order=46,
    )
)
register(
    ConfigKind(
        "cse_assignments",
        CseAssignment,
        fields=("description", "segment", "geo", "cse", "calendly_url"),
        order=47,
    )
)
register(
    ConfigKind(
        "programs", Program, fields=("description", "active", *Program.DEFINITION), order=50, recheck=True
    )
)
