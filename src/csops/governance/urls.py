from django.urls import path

from csops.governance import views

app_name = "governance"

urlpatterns = [
    path("config/", views.config_index, name="config"),
    path("config/<str:kind>/", views.config_kind, name="kind"),
    path("config/<str:kind>/object/", views.config_object, name="object"),
    path("config/<str:kind>/propose/", views.propose_edit, name="propose_edit"),
    path("config/<str:kind>/remove/", views.propose_removal, name="propose_removal"),
    path("config/<str:kind>/restore/", views.propose_restore, name="propose_restore"),
    path("changes/", views.ChangeListView.as_view(), name="changes"),
    path("changes/<int:number>/", views.change_detail, name="change"),
    path("changes/<int:number>/review/", views.change_review, name="change_review"),
    path("changes/<int:number>/apply/", views.change_apply, name="change_apply"),
    path("changes/<int:number>/withdraw/", views.change_withdraw, name="change_withdraw"),
    path("changes/<int:number>/impact/", views.change_impact, name="change_impact"),
    path("changes/<int:number>/revise/", views.change_revise, name="change_revise"),
    path("changelog/", views.ChangelogView.as_view(), name="changelog"),
]
