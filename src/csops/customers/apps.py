from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "csops.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from csops.customers import config  # noqa: F401  (registers configuration kinds)
