from django.urls import path

from csops.health import views

app_name = "health"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("backtests/", views.backtest_list, name="backtest_list"),
    path("backtests/<int:pk>/", views.backtest_detail, name="backtest_detail"),
    path("accounts/<int:pk>/updates/", views.add_health_update, name="add_update"),
]
