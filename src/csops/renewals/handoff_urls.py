from django.urls import path

from csops.renewals import handoff_views as views

app_name = "handoffs"

urlpatterns = [
    path("", views.HandoffListView.as_view(), name="list"),
    path("<int:pk>/", views.handoff_detail, name="detail"),
]
