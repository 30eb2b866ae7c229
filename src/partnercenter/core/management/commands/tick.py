"""`partnercenter tick`: run every periodic catch-up once (the worker does it every minute).

Each catch-up is idempotent and does only what is due at this moment, so a tick missed while the
worker was down is made good by the next one."""

from django.core.management.base import BaseCommand

from partnercenter.alerts import services as alert_services
from partnercenter.billing import tasks as billing_tasks
from partnercenter.customer_bills import tasks as customer_bill_tasks
from partnercenter.incentives import tasks as incentive_tasks
from partnercenter.usage import resource_months


class Command(BaseCommand):
    help = (
        "Run every due periodic catch-up once (partner bills, the current month's estimate, customer bills, "
        "incentives)."
    )

    def handle(self, *args: object, **opts: object) -> None:
        result = billing_tasks.catch_up()
        months = ", ".join(f"{m:%Y-%m}" for m in result.months) or "none"
        self.stdout.write(
            f"Partner bills: month(s) closed: {months}; {result.bills} bill(s) generated, "
            f"{result.estimates} estimate(s) refreshed."
        )
        customers = customer_bill_tasks.catch_up()
        months = ", ".join(f"{m:%Y-%m}" for m in customers.months) or "none"
        self.stdout.write(f"Customer bills: month(s) generated: {months}; {customers.bills} bill(s).")
        rebuilt = ", ".join(f"{m:%Y-%m}" for m in resource_months.refresh_stale()) or "none"
        self.stdout.write(f"Bill by Instance: month(s) rebuilt: {rebuilt}.")
        incentives = incentive_tasks.catch_up()
        periods = ", ".join(f"{code} {start:%Y-%m}" for code, start in incentives.periods) or "none"
        self.stdout.write(
            f"Incentives: period(s) generated: {periods}; {incentives.incentives} incentive(s), "
            f"{incentives.auto_confirmed} confirmed automatically after the deadline, "
            f"{incentives.expired} expired, {incentives.estimates} estimate(s) refreshed."
        )
        self.stdout.write(f"Customer alerts: {alert_services.raise_due()} raised.")
