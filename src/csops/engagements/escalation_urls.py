from django.urls import path

from csops.engagements import escalation_views as views

app_name = "escalations"

urlpatterns = [
    path("", views.EscalationListView.as_view(), name="list"),
    path("new/", views.new_escalation, name="new"),
    path("<int:pk>/", views.escalation_detail, name="detail"),
    path("<int:pk>/update/", views.add_update, name="add_update"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
]
