from django.urls import path

from csops.rules import views

app_name = "rules"

urlpatterns = [
    path("", views.rule_list, name="rule_list"),
    path("runs/", views.RuleResultListView.as_view(), name="result_list"),
    path("<int:pk>/", views.rule_detail, name="rule_detail"),
    path("by-name/<str:name>/", views.rule_detail_by_name, name="rule_detail_by_name"),
    path("<int:pk>/run/", views.queue_run, name="queue_run"),
    path("<int:pk>/backtest/", views.queue_backtest, name="queue_backtest"),
    path("backtests/<int:pk>/", views.backtest_detail, name="backtest_detail"),
]
