from django.urls import path

from csops.engagements import views

app_name = "engagements"

urlpatterns = [
    path("", views.RequestListView.as_view(), name="request_list"),
    path("new/", views.request_new, name="request_new"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("<int:pk>/", views.request_detail, name="request"),
    path("<int:pk>/call/", views.log_call, name="log_call"),
    path("<int:pk>/follow-up/", views.send_follow_up, name="send_follow_up"),
    path("<int:pk>/questions/", views.record_question, name="record_question"),
    path("<int:pk>/close/", views.close_request, name="close_request"),
    path("<int:pk>/reopen/", views.reopen_request, name="reopen_request"),
    path("follow-ups/<int:pk>/answer/", views.answer_question, name="answer_question"),
]
