from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Portal users and audit"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from accounts.login_throttle import count_login_failure

        user_login_failed.connect(count_login_failure, dispatch_uid="accounts.login_throttle")
