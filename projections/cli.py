"""``python -m projections``: serve the projection (the default), or rebuild it from events."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from common.mongo import create_async_client
from projections.event_store import EventStore
from projections.rebuild import compare, rebuild
from projections.settings import ProjectionSettings
from projections.store import JobStatusView

cli = typer.Typer(help="The vidmp3 status projection.", add_completion=False)


@cli.callback(invoke_without_command=True)
def main(context: typer.Context) -> None:
    """Serve the projection when no command is given."""
    if context.invoked_subcommand is None:
        serve()


@cli.command()
def serve() -> None:
    """Consume every event and keep the job-status view (settings from VIDMP3_* variables)."""
    from common.service import serve as serve_app
    from projections.app import create_app

    settings = ProjectionSettings.load()
    serve_app(create_app(settings), settings, "projections")


@cli.command("rebuild")
def rebuild_command(
    apply: Annotated[bool, typer.Option(help="Write the rebuilt statuses into the live view.")] = False,
) -> None:
    """Rebuild the job-status view from the event store into `job_status_rebuilt` and compare
    it with the live view; exits 1 when they differ (unless --apply wrote the rebuilt one).

    Events still in flight make recent jobs differ: compare on a quiet system."""

    async def run() -> bool:
        settings = ProjectionSettings.load()
        client = create_async_client(settings)
        try:
            database = client[settings.mongo_database]
            live = JobStatusView(database)
            rebuilt = JobStatusView(database, "job_status_rebuilt", derived=False)
            jobs = await rebuild(EventStore(database), rebuilt)
            comparison = await compare(live, rebuilt)
            typer.echo(
                f"rebuilt {jobs} jobs: {comparison.same} identical, {len(comparison.different)} different, "
                f"{len(comparison.only_live)} only in the live view, {len(comparison.only_rebuilt)} only rebuilt"
            )
            for job_id, fields in comparison.different.items():
                typer.echo(f"  {job_id} differs in {', '.join(fields)}")
            if apply:
                async for status in rebuilt.every():
                    await live.put(status, derive=False)
                listed = await live.rederive()
                typer.echo(f"the live view now holds the rebuilt statuses ({listed} jobs listed)")
                return True
            return comparison.identical
        finally:
            await client.close()

    if not asyncio.run(run()):
        raise typer.Exit(1)


@cli.command("retain-finished")
def retain_finished_command() -> None:
    """Hand every finished job that still holds files to retention, as if it finished now: its
    video goes at once and it expires after the retention period (for a store written before
    retention existed). Safe to run again: retention's steps are idempotent."""

    async def run() -> int:
        from faststream.rabbit import RabbitBroker

        from contracts.topology import Queues
        from projections.retention import unscheduled

        settings = ProjectionSettings.load()
        client = create_async_client(settings)
        broker = RabbitBroker(settings.rabbit_url.get_secret_value())
        try:
            await broker.connect()
            handed = 0
            async for event in unscheduled(EventStore(client[settings.mongo_database]).every_job()):
                # straight into retention's queue (the default exchange routes by queue name)
                await broker.publish(
                    event, routing_key=Queues.RETENTION.name, persist=True, message_id=str(event.event_id)
                )
                handed += 1
            return handed
        finally:
            await broker.stop()
            await client.close()

    typer.echo(f"handed {asyncio.run(run())} finished jobs to retention")


@cli.command("migrate")
def migrate_command() -> None:
    """Bring a store written by an older version to this one's layout (stop the services
    first). Safe to run again, also after it was cut short: it goes on where it stopped."""

    async def run() -> None:
        from projections.migrate import migrate

        settings = ProjectionSettings.load()
        client = create_async_client(settings)
        try:
            await migrate(client[settings.mongo_database], echo=typer.echo)
        finally:
            await client.close()

    asyncio.run(run())
