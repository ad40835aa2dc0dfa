"""``fixative doctor DATASTACK [--repair]``: what blocks the datastack's workflows, and its
repair (the checks are ``fixative.runner.doctor``)."""

from __future__ import annotations

import click

from fixative.cli.context import Context, pass_ctx
from fixative.errors import FixativeError


def register(cli: click.Group) -> None:
    """Add ``fixative doctor`` to the ``fixative`` group."""

    @cli.command()
    @click.argument("datastack")
    @click.option("--repair", is_flag=True, help="Repair what is found.")
    @pass_ctx
    def doctor(ctx: Context, datastack: str, repair: bool) -> None:
        """Find states that block the datastack's workflows (root ids valid in the future,
        versions and runs left by dead processes); with --repair, repair them. Exits non-zero
        while any remain. Also warns of PostgreSQL settings that slow bulk ingest, version
        builds or queries down, or endanger the data (warnings never fail the command)."""
        from fixative import bootstrap
        from fixative.runner import doctor as checks
        from fixative.services import Services
        from fixative.store.postgres_tuning import check_store

        ctx.settings.datastack(datastack)  # a clear error before the database is opened
        services = Services(ctx.settings, bootstrap.live_store(ctx.settings))
        try:
            for advice in check_store(services.store):
                ctx.console.print(f"warning: {advice.describe()}", highlight=False, soft_wrap=True)
            now = services.store.clock()
            found = checks.examine(services, datastack, now)
            for finding in found:
                ctx.console.print(f"found: {finding.describe()}", highlight=False)
            if not found:
                ctx.console.print(f"{datastack}: nothing blocks its workflows")
                return
            if not repair:
                raise FixativeError(
                    f"{len(found)} problem(s) found; `fixative doctor {datastack} --repair` "
                    "repairs them"
                )
            done = checks.repair(services, datastack, found, now)
        finally:
            services.close()
        for r in done:
            said = "repaired" if r.repaired else "not repaired"
            ctx.console.print(f"{said}: {r.finding.describe()}: {r.note}", highlight=False)
        left = sum(not r.repaired for r in done)
        if left:
            raise FixativeError(f"{left} problem(s) remain")
