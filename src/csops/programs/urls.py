from django.urls import path

from csops.programs import outbox_views, survey_views, views

app_name = "programs"

urlpatterns = [
    path("", views.program_list, name="program_list"),
    path("<int:pk>/", views.program_detail, name="program_detail"),
    path("<int:pk>/enrol/", views.enrol, name="enrol"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/<int:pk>/", views.template_preview, name="template_preview"),
    path("surveys/", survey_views.survey_dashboard, name="survey_dashboard"),
    path("outbox/", outbox_views.OutboxListView.as_view(), name="outbox"),
    path("outbox/<int:pk>/", outbox_views.message_detail, name="message_detail"),
    path("outbox/<int:pk>/retry/", outbox_views.retry_message, name="retry_message"),
]
