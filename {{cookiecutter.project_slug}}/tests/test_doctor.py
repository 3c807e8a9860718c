"""ops.doctor: what a signed-in identity may do, and the plots templates dvc.yaml names."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.ops.doctor import grant_on, template_names

# What a tracking server's /users/current and /users/current/permissions answer, put together.
ALICE = {
    "username": "alice",
    "is_admin": False,
    "permissions": [
        {"resource_type": "experiment", "resource_pattern": "12", "permission": "EDIT"},
        {"resource_type": "registered_model", "resource_pattern": "my-model", "permission": "READ"},
    ],
}


def test_a_user_has_the_grant_on_the_resource_named_and_none_elsewhere() -> None:
    assert grant_on(ALICE, "experiment", "12") == "EDIT"
    assert grant_on(ALICE, "registered_model", "my-model") == "READ"
    assert grant_on(ALICE, "experiment", "13") == "NO_PERMISSIONS"
    assert grant_on(ALICE, "registered_model", "12") == "NO_PERMISSIONS"  # an experiment's id
    assert grant_on(ALICE, "experiment", None) == "NO_PERMISSIONS"  # the experiment was not found
    assert grant_on({"username": "bob", "is_admin": False}, "experiment", "12") == "NO_PERMISSIONS"


def test_a_grant_on_every_resource_and_an_admin_cover_any() -> None:
    everything = {"resource_type": "experiment", "resource_pattern": "*", "permission": "READ"}
    reader = {"username": "ci", "is_admin": False, "permissions": [everything]}
    assert grant_on(reader, "experiment", "12") == "READ"
    assert grant_on(reader, "experiment", None) == "READ"
    assert grant_on(reader, "registered_model", "my-model") == "NO_PERMISSIONS"
    admin = {"username": "admin", "is_admin": True, "permissions": []}
    assert grant_on(admin, "registered_model", "my-model") == "ADMIN"


def test_template_names_are_found_at_any_depth_of_dvc_yaml() -> None:
    dvc_yaml = {  # a dvc.yaml as yaml.safe_load reads it
        "stages": {
            "evaluate": {
                "cmd": "python -m {{ cookiecutter.package_name }}.stages.evaluate",
                "plots": [
                    {"dvclive/plots/custom/test_predictions.json": {"template": "${task}", "x": "actual"}},
                    "dvclive/plots/images",
                ],
            }
        },
        "plots": [
            {"roc": {"template": "simple", "x": "fpr", "y": {"dvclive/plots/sklearn/roc.json": "tpr"}}},
            {"learning": {"template": "linear"}},
            {"odd": {"template": {"not": "a name"}}},  # not a text: no template name
        ],
    }
    assert template_names(dvc_yaml) == {"${task}", "simple", "linear"}
    assert template_names({"stages": {"prepare": {"cmd": "true"}}}) == set()
