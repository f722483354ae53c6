"""`tickgate alerts`: the Prometheus alerting rules of the host's thresholds, and the Grafana dashboard."""

from __future__ import annotations

import argparse
import json
import sys

from .args import add_alert_arguments

__all__ = ["add_parser", "cmd_alerts"]


def cmd_alerts(args: argparse.Namespace) -> int:
    from tickgate.host.alerts import render_rules, thresholds_of_args
    from tickgate.host.dashboard import render_dashboard

    if args.what == "rules":
        thresholds = thresholds_of_args(args)
        if not thresholds:
            raise ValueError("no thresholds: give --alerts FILE or --alert METRIC=LIMIT")
        sys.stdout.write(render_rules(thresholds, for_s=args.for_s))
    else:
        sys.stdout.write(json.dumps(render_dashboard(), indent=2) + "\n")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `tickgate alerts` on the CLI's subparsers."""
    a = sub.add_parser("alerts", help="Prometheus alert rules of the thresholds (rules), the Grafana dashboard "
                                      "of every metric the host exports (dashboard)")
    a.add_argument("what", choices=("rules", "dashboard"))
    a.add_argument("--for", dest="for_s", type=int, default=0, metavar="SECONDS",
                   help="rules: how long a threshold must be crossed before Prometheus fires (default 0)")
    add_alert_arguments(a)
    a.set_defaults(func=cmd_alerts)
    return a
