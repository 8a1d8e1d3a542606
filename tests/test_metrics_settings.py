"""settings: defaults and validation of an organisation's settings jsonb."""

import pytest

from devmetrics_app.metrics.settings import MetricsSettings, SettingsError


def test_defaults():
    s = MetricsSettings.from_json({})
    assert s == MetricsSettings()
    assert dict(s.size_points) == {"XS": 1, "S": 2, "M": 3, "L": 5, "XL": 8}
    assert s.default_points == 1.0
    assert s.is_production("Production") and s.is_production("prod") and s.is_production("LIVE")
    assert not s.is_production("staging")
    assert s.is_incident(["bug", "Incident"]) and s.is_incident(["outage"])
    assert s.is_deploy_workflow("Deploy to production") and not s.is_deploy_workflow("CI")
    assert s.is_revert_title('Revert "Add cache"') and not s.is_revert_title("Reverted naming")
    assert MetricsSettings.from_json(None) == MetricsSettings()


def test_reads_only_metric_keys_and_normalises():
    s = MetricsSettings.from_json({
        "ai_budget_usd": 50,  # another feature's key: ignored
        "bot_patterns": ["deploy-*", " ci-user "],
        "size_points": {"s": 1, "m": 2, "l": 4},
        "default_points": 0,
        "production_environments": ["prod-eu"],
        "incident_labels": ["sev1"],
        "deploy_workflow_pattern": "release*",
        "revert_detection": False,
        "story_point_labels": [r"^estimate=(\d+)$"],
    })
    assert s.bot_patterns == ("deploy-*", "ci-user")
    assert dict(s.size_points) == {"S": 1.0, "M": 2.0, "L": 4.0}
    assert s.size_to_points("l") == 4.0
    assert s.default_points == 0.0
    assert s.is_production("PROD-EU") and not s.is_production("production")
    assert s.is_incident(["SEV1"]) and not s.is_incident(["incident"])
    assert s.is_deploy_workflow("Release app") and not s.is_deploy_workflow("deploy")
    assert not s.is_revert_title('Revert "x"')


@pytest.mark.parametrize(("data", "key"), [
    ({"exclude_bots": "yes"}, "exclude_bots"),
    ({"bot_patterns": "dependabot*"}, "bot_patterns"),
    ({"bot_patterns": [""]}, "bot_patterns"),
    ({"production_environments": []}, "production_environments"),
    ({"story_point_labels": ["(unclosed"]}, "story_point_labels"),
    ({"story_point_labels": [r"^points (\d+) (\d+)$"]}, "story_point_labels"),
    ({"story_point_labels": [r"^points \d+$"]}, "story_point_labels"),
    ({"size_label_pattern": r"^size$"}, "size_label_pattern"),
    ({"size_points": {"L": -1}}, "size_points.L"),
    ({"size_points": {"L": True}}, "size_points.L"),
    ({"size_points": {"L": 5, "l": 3}}, "size_points"),
    ({"size_points": {}}, "size_points"),
    ({"default_points": float("inf")}, "default_points"),
    ({"default_points": "3"}, "default_points"),
    ({"deploy_workflow_pattern": ""}, "deploy_workflow_pattern"),
    ({"revert_title_patterns": ["[bad"]}, "revert_title_patterns"),
])
def test_invalid_settings_name_the_key(data, key):
    with pytest.raises(SettingsError, match=key.split(".")[0]):
        MetricsSettings.from_json(data)


def test_not_an_object():
    with pytest.raises(SettingsError):
        MetricsSettings.from_json(["x"])  # type: ignore[arg-type]
