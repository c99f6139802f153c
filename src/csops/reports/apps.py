from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "csops.reports"
    label = "reports"
    verbose_name = "Reports and dashboards"
