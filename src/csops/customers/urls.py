from django.urls import path

from csops.customers import views

app_name = "customers"

urlpatterns = [
    path("accounts/", views.AccountListView.as_view(), name="account_list"),
    path("accounts/add/", views.AccountEditView.as_view(), name="account_add"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", views.AccountEditView.as_view(), name="account_edit"),
    path("accounts/<int:pk>/delete/", views.AccountDeleteView.as_view(), name="account_delete"),
    path("contacts/", views.ContactListView.as_view(), name="contact_list"),
    path("contacts/add/", views.ContactEditView.as_view(), name="contact_add"),
    path("contacts/<int:pk>/edit/", views.ContactEditView.as_view(), name="contact_edit"),
    path("contacts/<int:pk>/delete/", views.ContactDeleteView.as_view(), name="contact_delete"),
    path("opportunities/", views.OpportunityListView.as_view(), name="opportunity_list"),
    path("opportunities/add/", views.OpportunityEditView.as_view(), name="opportunity_add"),
    path("opportunities/<int:pk>/edit/", views.OpportunityEditView.as_view(), name="opportunity_edit"),
    path("opportunities/<int:pk>/delete/", views.OpportunityDeleteView.as_view(), name="opportunity_delete"),
    path("tickets/", views.TicketListView.as_view(), name="ticket_list"),
    path("tickets/add/", views.TicketEditView.as_view(), name="ticket_add"),
    path("tickets/<int:pk>/edit/", views.TicketEditView.as_view(), name="ticket_edit"),
    path("tickets/<int:pk>/delete/", views.TicketDeleteView.as_view(), name="ticket_delete"),
    path("import/", views.import_page, name="import"),
    path("import/errors/<str:name>", views.import_error_file, name="import_errors"),
]
