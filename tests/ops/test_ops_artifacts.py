"""ops/ checked with the real tools: Grafana dashboards and provisioning (valid, fixed unique uids, unique
panel ids, every panel on the provisioned datasource), Prometheus rules (`promtool check config`, `check
rules`, `test rules`; every alert the issue lists, each with a severity, a summary and a unit test) and the
systemd unit (`systemd-analyze verify` with no warnings). A missing tool fails under CI and skips locally."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"
DASHBOARDS = sorted((OPS / "grafana" / "dashboards").glob("*.json"))
ALERTS = OPS / "prometheus" / "alerts.yml"
ALERT_TESTS = OPS / "prometheus" / "tests" / "alerts_test.yml"
UNIT = OPS / "systemd" / "kraken-runtime.service"
INSTALL_PREFIX = "/opt/kraken-runtime"  # where the unit expects the checkout; the test points it at this one

# The alerts issue 14 asks for, by what they watch.
REQUIRED_ALERTS = {
    "daemon down": "KrtDaemonDown", "feed stale": "KrtFeedStale", "resync storm": "KrtResyncStorm",
    "actor restart loop": "KrtActorRestartLoop", "actor disabled": "KrtActorDisabled",
    "safety mode not active": "KrtSafetyModeNotActive", "daily loss near its limit": "KrtDailyLossNearLimit",
    "dead man's switch disarmed in live mode": "KrtDeadMansSwitchDisarmedLive", "database errors": "KrtDatabaseErrors",
}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian: apt-get install -y {'prometheus' if name == 'promtool' else 'systemd'})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set, so this check must run")
        pytest.skip(message)
    return path


def provisioned_datasource_uid() -> str:
    doc = yaml.safe_load((OPS / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [source] = doc["datasources"]
    assert source["type"] == "prometheus" and source["uid"]
    return source["uid"]


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return found


def test_dashboards_are_valid_json_with_fixed_unique_uids_and_unique_panel_ids():
    assert [path.name for path in DASHBOARDS] == ["tier1.json", "tier2.json"]
    uids = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"]), path.name
        uids.append(dashboard["uid"])
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        assert dashboard["templating"]["list"] == [], "panel queries must run as written (no template variables)"
    assert sorted(uids) == ["krt-tier1", "krt-tier2"]


def test_panels_sit_on_the_24_column_grid_without_overlapping():
    for path in DASHBOARDS:
        taken: dict[tuple[int, int], str] = {}
        for panel in json.loads(path.read_text())["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, (path.name, panel["title"])
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in taken, f"{path.name}: {panel['title']!r} overlaps {taken[(x, y)]!r}"
                    taken[(x, y)] = panel["title"]


def test_every_panel_and_query_uses_the_provisioned_datasource():
    uid = provisioned_datasource_uid()
    for path in DASHBOARDS:
        for panel in panels(json.loads(path.read_text())):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}, (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid and target["expr"].strip(), (path.name, panel["title"])


def test_dashboard_provider_loads_the_dashboards_folder():
    doc = yaml.safe_load((OPS / "grafana" / "provisioning" / "dashboards" / "kraken-runtime.yml").read_text())
    [provider] = doc["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


def test_every_required_alert_exists_with_severity_summary_and_a_unit_test():
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    assert set(REQUIRED_ALERTS.values()) <= set(names), set(REQUIRED_ALERTS.values()) - set(names)
    tested = {case["alertname"] for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
              for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool test case where it fires"


def test_promtool_checks_the_config_and_rules_and_runs_the_rule_unit_tests():
    promtool = tool("promtool")
    for args in (["check", "config", str(OPS / "prometheus" / "prometheus.yml")], ["check", "rules", str(ALERTS)],
                 ["test", "rules", str(ALERT_TESTS)]):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (args, result.stdout[-3000:], result.stderr[-3000:])
        assert "SUCCESS" in result.stdout + result.stderr, args


def test_systemd_unit_passes_systemd_analyze_verify_with_no_warnings(tmp_path):
    analyze = tool("systemd-analyze")
    assert (REPO / ".venv" / "bin" / "kraken-runtime").exists(), "the checkout's .venv (README set-up) is needed"
    unit = tmp_path / "kraken-runtime.service"
    unit.write_text(UNIT.read_text().replace(INSTALL_PREFIX, str(REPO)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr


def test_systemd_unit_restarts_on_failure_but_not_on_a_config_error_and_is_hardened():
    service: dict[str, str] = {}
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif line and not line.startswith("#") and section == "[Service]":
            key, _, value = line.partition("=")
            service[key] = value
    assert service["Restart"] == "on-failure" and service["RestartPreventExitStatus"] == "78"
    assert service["KillSignal"] == "SIGTERM" and float(service["TimeoutStopSec"].rstrip("s")) > 10  # > shutdown_timeout_s
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "kraken-runtime" and service["WorkingDirectory"] == "/var/lib/kraken-runtime"
    assert service["ExecStart"].startswith(f"{INSTALL_PREFIX}/.venv/bin/kraken-runtime run")
