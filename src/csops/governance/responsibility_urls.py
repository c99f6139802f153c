from django.urls import path

from csops.governance import responsibility_views as views

app_name = "responsibilities"

urlpatterns = [
    path("", views.ProcessListView.as_view(), name="list"),
    path("new/", views.new_process, name="new"),
    path("report/", views.report, name="report"),
    path("report.pdf", views.report, {"as_pdf": True}, name="report_pdf"),
    path("<int:pk>/", views.process_detail, name="detail"),
    path("<int:pk>/status/", views.update_status, name="update_status"),
    path("<int:pk>/edit/", views.edit_process, name="edit"),
    path("<int:pk>/owner/", views.change_owner, name="change_owner"),
]
