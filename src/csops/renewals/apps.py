from django.apps import AppConfig


class RenewalsConfig(AppConfig):
    name = "csops.renewals"
    label = "renewals"
    verbose_name = "Renewals and retention"
