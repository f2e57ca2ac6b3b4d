"""The ``acr-refresh`` command line. Thin: parse arguments, load config, call :func:`run.run`, print.

Exit status: 0 everything ok; 1 something failed or was not attempted; 2 invalid config or usage (nothing
attempted). Every run option may also come from ``ACR_REFRESH_<OPTION>`` (e.g. ``ACR_REFRESH_CONCURRENCY``)
when the flag is absent, because the Azure Functions app has no command line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from . import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
METRICS_BACKENDS = ("pushgateway", "otlp", "azure-monitor")  # acr_refresh.metrics.BACKENDS, without importing it
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
DEFAULT_DEADLINE_SECONDS = 600.0
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1 or value > 1024:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1024, got {value}")
    return value


def _duration_seconds(text: str) -> float:
    from .durations import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected INDEX/COUNT such as 0/4, got {text!r}") from None
    if not sep or n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected INDEX/COUNT with 0 <= INDEX < COUNT, got {text!r}")
    return i, n


def _bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acr-refresh",
        description=(
            "Mint short-lived Azure Container Registry credentials from External Secrets Operator "
            "ACRAccessToken definitions and deliver them to Kubernetes Secrets and Azure Key Vault."
        ),
        epilog="Every option of 'run' can also be set as ACR_REFRESH_<OPTION> (e.g. ACR_REFRESH_CONCURRENCY=8). "
        "Exit status: 0 ok, 1 something failed, 2 invalid config or usage.",
    )
    parser.add_argument("--version", action="version", version=f"acr-refresh {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="PATH",
                       help="config file or directory of *.yaml/*.yml/*.json (env ACR_REFRESH_CONFIG)")
        p.add_argument("--strict", action="store_const", const=True, default=None,
                       help="treat every config warning as an error (env ACR_REFRESH_STRICT)")
        p.add_argument("--output", choices=("text", "json"), default=None,
                       help="stdout format; json prints exactly one JSON document (env ACR_REFRESH_OUTPUT)")
        p.add_argument("--log-format", choices=("text", "json"), default=None,
                       help="stderr log format (env ACR_REFRESH_LOG_FORMAT)")
        p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default=None,
                       help="log level (env ACR_REFRESH_LOG_LEVEL, default info)")

    run_p = sub.add_parser("run", help="mint and deliver credentials", description="Mint and deliver credentials.")
    common(run_p)
    run_p.add_argument("--generator", action="append", metavar="NS/NAME",
                       help="only this generator; repeatable (env ACR_REFRESH_GENERATOR, comma-separated)")
    run_p.add_argument("--dry-run", action="store_const", const=True, default=None,
                       help="mint (proving auth works) but write nothing (env ACR_REFRESH_DRY_RUN)")
    run_p.add_argument("--concurrency", type=_positive_int, default=None, metavar="N",
                       help="requests in flight at once, default 16 (env ACR_REFRESH_CONCURRENCY)")
    run_p.add_argument("--deadline", type=_duration_seconds, default=None, metavar="DURATION",
                       help="start no new request after this long, default 10m (env ACR_REFRESH_DEADLINE)")
    run_p.add_argument("--force", action="store_const", const=True, default=None,
                       help="rewrite every target, fresh or not (env ACR_REFRESH_FORCE)")
    run_p.add_argument("--min-remaining", type=_duration_seconds, default=None, metavar="DURATION",
                       help="refresh targets whose token has less than this left; default half its lifetime "
                            "(env ACR_REFRESH_MIN_REMAINING)")
    shard = run_p.add_mutually_exclusive_group()
    shard.add_argument("--shard", type=_shard, default=None, metavar="INDEX/COUNT",
                       help="run only shard INDEX (0-based) of COUNT, by a stable hash of each generator "
                            "(env ACR_REFRESH_SHARD)")
    shard.add_argument("--shards", type=_positive_int, default=None, metavar="COUNT",
                       help="like --shard, taking INDEX from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job; "
                            "env ACR_REFRESH_SHARDS)")
    run_p.add_argument("--prune", action="store_const", const=True, default=None,
                       help="delete Secrets acr-refresh created whose target is gone from the config, under the "
                            "README's prune rules; with --dry-run, only report them (env ACR_REFRESH_PRUNE)")
    run_p.add_argument("--prune-allow-empty", action="store_const", const=True, default=None,
                       help="prune even in a cluster for which the config declares no generator or target "
                            "(env ACR_REFRESH_PRUNE_ALLOW_EMPTY)")
    run_p.add_argument("--prune-max-delete", type=_non_negative_int, default=None, metavar="N",
                       help="refuse a cluster's prune that would delete more than N Secrets and more than a "
                            "quarter of those acr-refresh created there; default 10 (env ACR_REFRESH_PRUNE_MAX_DELETE)")
    run_p.add_argument("--events", action="store_const", const=True, default=None,
                       help="record Kubernetes Events on the Secrets written or failed (env ACR_REFRESH_EVENTS)")
    run_p.add_argument("--take-over", action="append", type=_secret_ref, default=None, metavar="[CLUSTER/]NS/NAME",
                       help="write this existing Secret although External Secrets Operator manages it or it "
                            "carries no marker of acr-refresh (migration, adoption); repeatable; NS/NAME is in "
                            "the default cluster (env ACR_REFRESH_TAKE_OVER, comma-separated)")
    run_p.add_argument("--metrics", choices=METRICS_BACKENDS, default=None,
                       help="deliver the run's metrics (docs/operations.md) to this backend; off by default "
                            "(env ACR_REFRESH_METRICS)")
    run_p.add_argument("--pushgateway-url", default=None, metavar="URL",
                       help="the Prometheus Pushgateway for --metrics pushgateway (env ACR_REFRESH_PUSHGATEWAY_URL)")
    run_p.add_argument("--metrics-file", default=None, metavar="PATH",
                       help="also write the run's metrics as Prometheus text to PATH, e.g. for node_exporter's "
                            "textfile collector (env ACR_REFRESH_METRICS_FILE)")

    sub.add_parser("schema", help="print a JSON Schema of the config kinds (for editors)",
                   description="Print a JSON Schema (draft 2020-12) of every config kind acr-refresh reads. "
                               "Point your editor's YAML language server at it.")

    val_p = sub.add_parser("validate", help="check the config and print the plan",
                           description="Parse and validate the config and print the plan. Exit 0 or 2.")
    common(val_p)
    return parser


_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def _secret_ref(text: str) -> str:
    """``NS/NAME`` or ``CLUSTER/NS/NAME``, each part a DNS name (a bare or malformed value is a usage error)."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(_DNS_NAME.fullmatch(p) for p in parts):
        raise argparse.ArgumentTypeError(f"expected NS/NAME or CLUSTER/NS/NAME, got {text!r}")
    return text


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text!r}")
    return value


def _from_env(args: argparse.Namespace, environ: Mapping[str, str], parser: argparse.ArgumentParser) -> None:
    """Fill options left unset on the command line from ``ACR_REFRESH_<OPTION>``."""
    converters: dict[str, Callable[[str], Any]] = {
        "config": str,
        "strict": _bool,
        "output": str,
        "log_format": str,
        "log_level": str,
        "generator": lambda s: [g.strip() for g in s.split(",") if g.strip()],
        "dry_run": _bool,
        "concurrency": _positive_int,
        "deadline": _duration_seconds,
        "force": _bool,
        "min_remaining": _duration_seconds,
        "take_over": lambda s: [_secret_ref(v.strip()) for v in s.split(",") if v.strip()],
        "prune": _bool,
        "prune_allow_empty": _bool,
        "prune_max_delete": _non_negative_int,
        "shard": _shard,
        "shards": _positive_int,
        "metrics": lambda s: s.strip().lower(),
        "pushgateway_url": str,
        "metrics_file": str,
        "events": _bool,
    }
    choices = {"output": ("text", "json"), "log_format": ("text", "json"),
               "log_level": ("debug", "info", "warning", "error"), "metrics": METRICS_BACKENDS}
    for dest, convert in converters.items():
        if not hasattr(args, dest) or getattr(args, dest) is not None:
            continue
        name = "ACR_REFRESH_" + dest.upper()
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            value = convert(raw)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{name}: {exc}")
        if dest in choices and value not in choices[dest]:
            parser.error(f"{name}: expected one of {', '.join(choices[dest])}, got {raw!r}")
        setattr(args, dest, value)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None,
         stdout: TextIO | None = None) -> int:
    """Entry point of the ``acr-refresh`` console script. Returns the exit status."""
    env = os.environ if environ is None else environ
    out = stdout or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not args.command:
        parser.print_help(out)
        return EXIT_USAGE
    if args.command == "schema":
        from .schema import config_schema

        print(json.dumps(config_schema(), indent=2), file=out)
        return EXIT_OK
    try:
        _from_env(args, env, parser)
    except SystemExit as exc:
        return int(exc.code or 0)
    output = args.output or "text"

    from .logs import configure

    handler = configure(args.log_format or "text", args.log_level or "info")
    try:
        if args.command == "validate":
            return _validate(args, output, out, env)
        return _run(args, output, out, env)
    finally:
        import logging

        logging.getLogger().removeHandler(handler)


def _load(args: argparse.Namespace, output: str, out: TextIO, env: Mapping[str, str]) -> Any:
    from .config import load_config
    from .errors import ConfigError

    if not args.config:
        _fail(output, out, "no config: give --config PATH or set ACR_REFRESH_CONFIG")
        return None
    try:
        return load_config(args.config, strict=bool(args.strict), environ=env)
    except ConfigError as exc:
        _fail(output, out, f"invalid config: {exc}")
        return None


def _validate(args: argparse.Namespace, output: str, out: TextIO, env: Mapping[str, str]) -> int:
    from .errors import ConfigError
    from .plan import plan_dict, plan_text
    from .trial import trial_config

    config = _load(args, output, out, env)
    if config is None:
        return EXIT_USAGE
    try:  # every template once with placeholder credentials: what a run would find only after minting
        config = trial_config(config, strict=bool(args.strict))
    except ConfigError as exc:
        _fail(output, out, f"invalid config: {exc}")
        return EXIT_USAGE
    if output == "json":
        print(json.dumps(plan_dict(config), indent=2), file=out)
    else:
        print(plan_text(config), file=out)
    return EXIT_OK


def _run(args: argparse.Namespace, output: str, out: TextIO, env: Mapping[str, str]) -> int:
    import logging

    from .errors import UsageError
    from .run import DEFAULT_CONCURRENCY, RunOptions, run

    config = _load(args, output, out, env)
    if config is None:
        return EXIT_USAGE
    log = logging.getLogger("acr_refresh.cli")
    for warning in config.warnings:
        log.warning(warning)
    from datetime import timedelta

    shard = args.shard
    if args.shards is not None:
        index = env.get("JOB_COMPLETION_INDEX", "").strip()
        if not index.isdigit() or int(index) >= args.shards:
            _fail(output, out, f"--shards {args.shards} needs JOB_COMPLETION_INDEX between 0 and "
                               f"{args.shards - 1} (set by a Kubernetes Indexed Job), got {index or 'nothing'!r}")
            return EXIT_USAGE
        shard = (int(index), args.shards)
    metrics = _metrics_settings(args)
    if metrics.enabled:
        from .metrics import problem

        trouble = problem(metrics, env)
        if trouble:
            _fail(output, out, trouble)
            return EXIT_USAGE
    deadline = args.deadline if args.deadline is not None else DEFAULT_DEADLINE_SECONDS
    if metrics.enabled:  # delivery fits inside the deadline: the run's own work stops that much earlier
        deadline -= min(metrics.budget_seconds, deadline / 2)
    options = RunOptions(
        shard=shard,
        generators=tuple(args.generator or ()),
        dry_run=bool(args.dry_run),
        force=bool(args.force),
        take_over=frozenset(args.take_over or ()),
        prune=bool(args.prune),
        prune_allow_empty=bool(args.prune_allow_empty),
        prune_max_delete=10 if args.prune_max_delete is None else args.prune_max_delete,
        min_remaining=timedelta(seconds=args.min_remaining) if args.min_remaining is not None else None,
        concurrency=args.concurrency or DEFAULT_CONCURRENCY,
        deadline_seconds=deadline,
        events=bool(args.events),
    )
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        # Stop starting new work. Requests in flight get run.STOP_GRACE_SECONDS, then are given up, so a
        # stalled request cannot hold shutdown past the pod's grace period whatever its timeouts. Every
        # target is written in one request, so it is either old or new.
        received.append(signum)
        stop.set()
        log.warning("signal received: starting nothing new, finishing or giving up requests in flight",
                    extra={"signal": signal.Signals(signum).name})

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    from . import telemetry

    before = telemetry.snapshot()
    try:
        report = run(config, options, stop=stop)
    except UsageError as exc:
        _fail(output, out, str(exc))
        return EXIT_USAGE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if metrics.enabled:  # warnings go into the report; the exit status never depends on it
        from .metrics import deliver

        deliver(report, metrics, counts=telemetry.snapshot() - before, shard=shard, selected=bool(options.generators),
                environ=env, final=True)
    if output == "json":
        print(json.dumps(report.to_dict(), indent=2), file=out)
    else:
        print(report_text(report), file=out)
    if received:
        code = EXIT_SIGTERM if received[0] == signal.SIGTERM else EXIT_SIGINT
        if report.abandoned and threading.current_thread() is threading.main_thread() and out is sys.stdout:
            # Requests given up after the stop grace still hold worker threads, which the interpreter would
            # wait for at exit: the report is out, so leave now (each write is one request: old or new).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    return EXIT_OK if report.ok else EXIT_FAILED


def _metrics_settings(args: argparse.Namespace) -> Any:
    from .metrics import MetricsSettings

    return MetricsSettings(backend=args.metrics or "", pushgateway_url=(args.pushgateway_url or "").strip(),
                           file=args.metrics_file or "")


def report_text(report: Any) -> str:
    """A run report for people: one line per generator and target, then a summary."""
    data = report.to_dict()
    lines = []
    for g in data["generators"]:
        expiry = f" expires {g['expiresAt']}" if g["expiresAt"] else ""
        err = f": {g['error']}" if g["error"] else ""
        lines.append(f"{g['status']:<13} {g['namespace']}/{g['name']} ({g['tokenType']} token, {g['registry']})"
                     f"{expiry}{err}")
        for t in g["targets"]:
            where = (f"{t['vault']} {t['secretName']}" if t["kind"] == "KeyVaultSecret"
                     else f"{t['cluster']}/{t['namespace']}/{t['name']}")
            terr = f": {t['error']}" if t["error"] else ""
            lines.append(f"  {t['status']:<11} {t['kind']} {where}{terr}")
    for p in data.get("pruned") or []:
        perr = f": {p['error']}" if p["error"] else ""
        where = f"{p['cluster']}/{p['namespace']}/{p['name']}" if p.get("name") else f"{p['cluster']} (cluster)"
        lines.append(f"pruned {p['status']:<8} {where}{perr}")
    for w in data["warnings"]:
        lines.append(f"warning: {w}")
    failed = sum(1 for g in report.generators if not g.ok)
    lines.append(f"{'ok' if data['ok'] else 'FAILED'}: {len(data['generators'])} generator(s), {failed} with "
                 f"failures, {data['durationSeconds']}s{' (dry run)' if data['dryRun'] else ''}")
    return "\n".join(lines)


def _fail(output: str, out: TextIO, message: str) -> None:
    from .redact import scrub

    message = scrub(message)
    if output == "json":
        print(json.dumps({"ok": False, "error": message}), file=out)
    else:
        print(f"acr-refresh: {message}", file=sys.stderr)
