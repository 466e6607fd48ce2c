"""``feedmgr preflight``: every check a deployment needs, in one report for CI."""

from __future__ import annotations

from pathlib import Path

import click

from feedmgr.cli._common import AppContext, emit, secret_prompt


@click.command(
    epilog="Example: feedmgr preflight deployment.toml --format junit -o preflight.xml "
    "--fail-on warn"
)
@click.argument("deployment_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "junit", "html"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file (atomically) instead of stdout.",
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(["warn", "fail"]),
    default="fail",
    show_default=True,
    help="Exit 1 when a finding of at least this severity exists.",
)
@click.pass_obj
def preflight(
    app: AppContext, *, deployment_file: Path, output_format: str, output: Path | None, fail_on: str
) -> None:
    """Run the feed, provisioning, certificate and posture checks a deployment file names.

    A section that cannot run is a finding, not a crash. Exit 1 when any finding reaches
    --fail-on (default: fail), else 0; exit 3 when the deployment file itself is invalid.
    """
    from feedmgr.deployment import load_deployment
    from feedmgr.findings import Severity
    from feedmgr.preflight import run_preflight
    from feedmgr.render.html import render_html
    from feedmgr.render.json import render_report as render_json
    from feedmgr.render.junit import render_report as render_junit
    from feedmgr.render.text import render_grouped

    deployment = load_deployment(deployment_file)
    result = run_preflight(
        deployment,
        deployment_file.resolve().parent,
        app.home,
        ise_prompt=secret_prompt(),
    )
    threshold = Severity.from_label(fail_on)
    if output_format == "json":
        text = render_json(result.report)
    elif output_format == "junit":
        text = render_junit(result.report, threshold)
    elif output_format == "html":
        text = render_html(result.report, result.sections)
    else:
        text = render_grouped(result.report)
    if output is None:
        emit(text)
    else:
        _write_atomically(output, text)
        app.note(f"wrote {output}")
    code = result.report.exit_code(threshold)
    if code:
        raise click.exceptions.Exit(int(code))


def _write_atomically(path: Path, text: str) -> None:
    from feedmgr.atomic import write_text_atomically
    from feedmgr.errors import UsageError

    try:
        # CI recipes (guide 07) write into a reports/ folder the job never made; a report is
        # read where the job said, unlike a package carried away on a stick.
        write_text_atomically(path, text, create_folder=True)
    except OSError as exc:
        raise UsageError(str(path), f"cannot write the report ({exc.strerror})") from exc
