from django.urls import path

from csops.requests import views

app_name = "requests"

urlpatterns = [
    path("", views.board, name="board"),
    path("list/", views.RequestListView.as_view(), name="list"),
    path("new/", views.new, name="new"),
    path("triage/", views.triage_list, name="triage_list"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/move/", views.move, name="move"),
    path("<int:pk>/triage/", views.work, {"verb": "triage"}, name="triage"),
    path("<int:pk>/feedback/", views.work, {"verb": "feedback"}, name="feedback"),
    path("<int:pk>/checklist/", views.work, {"verb": "checklist"}, name="checklist"),
    path("<int:pk>/weight/", views.work, {"verb": "weight"}, name="weight"),
    path("<int:pk>/assign/", views.work, {"verb": "assign"}, name="assign"),
    path("<int:pk>/comments/", views.work, {"verb": "comment"}, name="comment"),
]
