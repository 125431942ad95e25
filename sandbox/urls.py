from django.urls import path

from sandbox.views import authorize, control, desk, desk_tickets, identity, migration, page, token

app_name = "sandbox"

urlpatterns = [
    path("", page.control_page, name="control_page"),
    path("control/reset", control.reset, name="control_reset"),
    path("control/faults", control.fault_list, name="control_faults"),
    path("control/faults/clear", control.fault_clear_all, name="control_faults_clear"),
    path("control/faults/<int:fault_id>", control.fault_clear, name="control_fault"),
    path("control/faults/<int:fault_id>/clear", control.fault_clear, name="control_fault_clear"),
    path("control/requests", control.request_list, name="control_requests"),
    path("control/clients", control.client_list, name="control_clients"),
    path("control/users", control.user_list, name="control_users"),
    path("control/users/<str:zuid>/revoke", control.user_revoke, name="control_user_revoke"),
    path("control/authtokens", control.authtoken_list, name="control_authtokens"),
    path("control/grants", control.grant_list, name="control_grants"),
    path("control/settings", control.settings_view, name="control_settings"),
    path("<str:dc>/accounts/oauth/v2/auth", authorize.auth, name="auth"),
    path("<str:dc>/accounts/oauth/v2/token", token.token, name="token"),
    path("<str:dc>/accounts/oauth/v2/token/revoke", token.revoke, name="revoke"),
    path(
        "<str:dc>/accounts/oauth/v2/token/external/authtooauth",
        migration.authtooauth,
        name="authtooauth",
    ),
    path("<str:dc>/accounts/oauth/user/info", identity.user_info, name="userinfo"),
    path("<str:dc>/accounts/oauth/serverinfo", identity.server_info, name="serverinfo"),
    path("<str:dc>/desk/api/v1/organizations", desk.organizations, name="desk_organizations"),
    path("<str:dc>/desk/api/v1/myinfo", desk.myinfo, name="desk_myinfo"),
    path("<str:dc>/desk/api/v1/tickets", desk_tickets.tickets, name="desk_tickets"),
    path("<str:dc>/desk/api/v1/tickets/<str:ticket_id>", desk_tickets.ticket, name="desk_ticket"),
]
