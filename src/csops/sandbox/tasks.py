"""The sandbox app's scheduled job (schedules.yaml)."""

from django.conf import settings
from django_tasks import task


@task()
def clean_sandbox() -> str:
    """Run the default policy, unless it is disabled or no AWS account is configured (no endpoint
    and no credentials: the job says so instead of failing every day)."""
    import boto3

    from csops.sandbox.actions import run_cleanup
    from csops.sandbox.models import SandboxPolicy

    policy = SandboxPolicy.objects.filter(name="default").first()
    if policy is None or not policy.enabled:
        return "sandbox cleanup: the default policy is missing or disabled"
    if not settings.CSOPS_SANDBOX_ENDPOINT_URL and boto3.Session().get_credentials() is None:
        return "sandbox cleanup: no AWS credentials configured; nothing done"
    run = run_cleanup(policy_name="default")
    return f"sandbox cleanup run {run.pk}: {run.get_status_display()}, {run.counts}"
