"""Verify the audit chain: exit status 0 when every chain verifies, 1 at a break."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.selectors_chain import chain_verify, compare_kept_digest, read_digest_csv


class Command(BaseCommand):
    help = (
        "Verify every audit chain (audit events, sign-ins, journal entries and lines) and "
        "report the first broken link of each; optionally check a kept daily digest CSV."
    )

    def add_arguments(self, parser):
        parser.add_argument("--table", action="append", help="Only this table's chain")
        parser.add_argument(
            "--digest-file",
            action="append",
            default=[],
            help="A daily digest CSV kept outside the database, to check the chain against",
        )

    def handle(self, *args, **options):
        verification = chain_verify(tables=options["table"])
        if options["table"] and not verification.chains:
            raise CommandError(f"No chained table named {', '.join(options['table'])}.")
        failed = not verification.verifies
        for report in verification.chains:
            if report.verifies:
                if options["verbosity"] > 1:
                    self.stdout.write(f"ok      {report.table}: {report.links} rows")
                continue
            b = report.first_break
            assert b is not None
            self.stdout.write(f"BROKEN  {report.table}: {b.description}")
            self.stdout.write(f"        problem: {b.kind}; row: {b.row_id}; link: {b.seq}")
            if b.stored_digest:
                self.stdout.write(f"        stored digest:     {b.stored_digest}")
            if b.recomputed_digest:
                self.stdout.write(f"        recomputed digest: {b.recomputed_digest}")
            if b.content is not None:
                self.stdout.write(f"        row now: {b.content}")
            if report.breaks > 1:
                self.stdout.write(f"        {report.breaks} problems in this chain")
        for record in verification.digest_mismatches:
            self.stdout.write(
                f"BROKEN  daily digest {record.day} {record.chain} link {record.last_seq}: "
                f"recorded {record.last_digest}, the chain no longer holds it"
            )
        for name in options["digest_file"]:
            rows = read_digest_csv(Path(name).read_text(encoding="utf-8-sig"))
            for row, now in compare_kept_digest(rows):
                failed = True
                self.stdout.write(
                    f"BROKEN  kept digest {name}: {row['chain']} link {row['last_seq']} was "
                    f"{row['last_digest']}, the chain holds {now or 'no such link'}"
                )
        summary = f"{len(verification.chains)} chains, {verification.links} rows"
        if failed:
            self.stdout.write(self.style.ERROR(f"The audit chain does not verify ({summary})."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(f"The audit chain verifies ({summary})."))
