#!/usr/bin/env python3
"""A TrainGate client in plain Python: the standard library only (urllib, json), Python 3.8+.

    python3 client-examples/python_client.py --url http://localhost:4000 --token <jwt> [command]

Commands:
    demo            (the default) create a training config, then list your deployments
    create-config   create a training config (a mutation): --name, --model, --dataset, --epochs, --method
    deploy          deploy a training config (a mutation): --config <id> [--gpu RTX_A4000] [--budget 0.5]
    deployments     list your deployments with their status and cost (a query, paginated): [--status RUNNING]
    stop            stop a deployment (a mutation: its pod is terminated, idempotent): --deployment <id>

--url and --token fall back to TRAINGATE_URL (default http://localhost:4000) and TRAINGATE_TOKEN.
Errors print the gateway's extensions.code and message on stderr. Exit status: 0 ok, 1 error, 2 usage.
Money is shown as the gateway keeps it, to $0.0001: a small run costs fractions of a cent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional

CREATE_CONFIG = """
mutation CreateConfig($input: TrainingConfigInput!) {
  createTrainingConfig(input: $input) {
    id name modelName datasetUrl method createdAt
    hyperparameters { epochs batchSize learningRate loraR quantization }
  }
}
"""

DEPLOY = """
mutation Deploy($input: DeployTrainingInput!) {
  deployTraining(input: $input) {
    id status podId gpuType costPerHourUsd budgetLimitUsd job { id status }
  }
}
"""

STOP = """
mutation Stop($id: ID!) {
  stopDeployment(id: $id) { id status stopReason actualCostUsd }
}
"""

DEPLOYMENTS = """
query Deployments($first: Int, $after: String, $filter: DeploymentFilter) {
  deployments(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id status stopReason gpuType gpuCount
        actualCostUsd budgetLimitUsd budgetUsedPercent costPerHourUsd
        createdAt
        trainingConfig { name }
        job { progress latestMetric { step loss } }
      }
    }
  }
}
"""


class GatewayError(Exception):
    """One or more errors the gateway answered, each as 'CODE: message'."""

    def __init__(self, lines: List[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


class TrainGate:
    """GraphQL over HTTP: POST <url>/graphql with a JSON body and the user's bearer token."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.endpoint = url.rstrip("/") + "/graphql"
        self.url = url
        self.token = token
        self.timeout = timeout

    def execute(self, query: str, variables: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode("utf-8")
        request = urllib.request.Request(
            self.endpoint,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": "Bearer " + self.token,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            # A 4xx/5xx may still carry GraphQL errors (a bad query is answered 400 with them).
            raw = error.read().decode("utf-8", "replace")
            try:
                payload = json.loads(raw)
            except ValueError:
                raise GatewayError(["HTTP %d: %s" % (error.code, raw[:200] or error.reason)]) from None
        except urllib.error.URLError as error:
            raise GatewayError(
                ["cannot reach the gateway at %s (%s): is it running? (npm run demo)" % (self.url, error.reason)]
            ) from None
        errors = payload.get("errors") or []
        if errors:
            raise GatewayError([describe(e) for e in errors])
        return payload["data"]


def usd(amount: float) -> str:
    """Dollars to the gateway's precision ($0.0001): sub-cent costs stay visible."""
    return "$%.4f" % amount


def describe(error: Dict[str, Any]) -> str:
    extensions = error.get("extensions") or {}
    line = "%s: %s" % (extensions.get("code", "ERROR"), error.get("message", "(no message)"))
    if extensions.get("field"):
        line += " (field %s)" % extensions["field"]
    return line


def create_config(client: TrainGate, args: argparse.Namespace) -> Dict[str, Any]:
    hyperparameters: Dict[str, Any] = {"epochs": args.epochs, "loggingSteps": 5}
    data = client.execute(
        CREATE_CONFIG,
        {
            "input": {
                "name": args.name,
                "modelName": args.model,
                "datasetUrl": args.dataset,
                "method": args.method,
                "hyperparameters": hyperparameters,
            }
        },
    )
    config = data["createTrainingConfig"]
    print("created training config %s (%s)" % (config["id"], config["name"]))
    print(json.dumps(config, indent=2))
    return config


def deploy(client: TrainGate, args: argparse.Namespace) -> Dict[str, Any]:
    deployment_input: Dict[str, Any] = {"trainingConfigId": args.config, "gpuType": args.gpu}
    if args.budget is not None:
        deployment_input["budgetLimitUsd"] = args.budget
    deployment = client.execute(DEPLOY, {"input": deployment_input})["deployTraining"]
    print("deployed %s: %s on %s, job %s" % (deployment["id"], deployment["status"], deployment["gpuType"], deployment["job"]["id"]))
    print(json.dumps(deployment, indent=2))
    return deployment


def list_deployments(client: TrainGate, args: argparse.Namespace) -> List[Dict[str, Any]]:
    variables: Dict[str, Any] = {"first": 50}
    if args.status:
        variables["filter"] = {"status": [s.strip().upper() for s in args.status.split(",")]}
    nodes: List[Dict[str, Any]] = []
    total = 0
    while True:  # Relay pagination: follow endCursor until hasNextPage is false.
        page = client.execute(DEPLOYMENTS, variables)["deployments"]
        total = page["totalCount"]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = page["pageInfo"]["endCursor"]

    print("%d deployment(s)" % total)
    if not nodes:
        return nodes
    rows = [["ID", "CONFIG", "GPU", "STATUS", "STEP", "LOSS", "COST", "BUDGET", "USED", "CREATED"]]
    for d in nodes:
        metric = (d.get("job") or {}).get("latestMetric") or {}
        reason = d.get("stopReason")
        status = d["status"] + (" (%s)" % reason if reason and reason != d["status"] else "")
        rows.append(
            [
                d["id"],
                d["trainingConfig"]["name"],
                "%s x%d" % (d["gpuType"], d["gpuCount"]),
                status,
                str(metric.get("step", "-")),
                "%.4f" % metric["loss"] if metric.get("loss") is not None else "-",
                usd(d["actualCostUsd"]),
                usd(d["budgetLimitUsd"]),
                "%.1f%%" % d["budgetUsedPercent"],
                d["createdAt"][:19].replace("T", " "),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    spent = sum(d["actualCostUsd"] for d in nodes)
    print("total spent: %s" % usd(spent))
    return nodes


def stop(client: TrainGate, args: argparse.Namespace) -> Dict[str, Any]:
    deployment = client.execute(STOP, {"id": args.deployment})["stopDeployment"]
    print("stopped %s: %s, cost %s" % (deployment["id"], deployment["status"], usd(deployment["actualCostUsd"])))
    return deployment


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A TrainGate client in plain Python (standard library only).")
    parser.add_argument("--url", default=os.environ.get("TRAINGATE_URL", "http://localhost:4000"))
    parser.add_argument("--token", default=os.environ.get("TRAINGATE_TOKEN"))
    commands = parser.add_subparsers(dest="command")

    def config_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", default="python client example")
        p.add_argument("--model", default="TinyLlama/TinyLlama-1.1B-Chat-v1.0")
        p.add_argument(
            "--dataset",
            default="https://raw.githubusercontent.com/tatsu-lab/stanford_alpaca/main/alpaca_data.json",
        )
        p.add_argument("--epochs", type=int, default=1)
        p.add_argument("--method", default="LORA", choices=["LORA", "QLORA", "FULL"])

    demo = commands.add_parser("demo", help="create a training config, then list your deployments (default)")
    config_options(demo)
    demo.add_argument("--status", help="comma-separated statuses to list, e.g. RUNNING,COMPLETED")
    config_options(commands.add_parser("create-config", help="create a training config"))
    deploy_parser = commands.add_parser("deploy", help="deploy a training config")
    deploy_parser.add_argument("--config", required=True, help="the training config id")
    deploy_parser.add_argument("--gpu", default="RTX_A4000")
    deploy_parser.add_argument("--budget", type=float, help="hard budget in USD (default: the gateway's, 5)")
    listing = commands.add_parser("deployments", help="list your deployments with status and cost")
    listing.add_argument("--status", help="comma-separated statuses, e.g. RUNNING,COMPLETED")
    stop_parser = commands.add_parser("stop", help="stop a deployment (terminates its pod; idempotent)")
    stop_parser.add_argument("--deployment", required=True, help="the deployment id")

    args = parser.parse_args(argv)
    if args.command is None:  # no command: the demo, with its defaults
        args = parser.parse_args(argv + ["demo"])
    if not args.token:
        parser.error("no token: pass --token <jwt> or set TRAINGATE_TOKEN (npm run demo prints one)")
    return args


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    client = TrainGate(args.url, args.token)
    try:
        if args.command == "create-config":
            create_config(client, args)
        elif args.command == "deploy":
            deploy(client, args)
        elif args.command == "deployments":
            list_deployments(client, args)
        elif args.command == "stop":
            stop(client, args)
        else:
            create_config(client, args)
            print()
            list_deployments(client, args)
    except GatewayError as error:
        for line in error.lines:
            print("error: " + line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
