from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("tokens/<int:token_id>/revoke/", views.revoke_own_token, name="token_revoke"),
    path("users/", views.users, name="users"),
    path("users/<str:username>/tokens/revoke/", views.revoke_user_tokens, name="user_tokens_revoke"),
    path("users/<str:username>/menus/", views.user_menus, name="user_menus"),
]
