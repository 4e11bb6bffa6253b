"""The conformance kit fails a broken plugin, each fault by the check meant for it."""

from __future__ import annotations

import pytest

from support import FIXTURES

from ebmbench.testing import run_conformance

BROKEN = FIXTURES / "kitbroken"
PARTNERS = ("8gaussians", "mlp", "nce")


@pytest.fixture(scope="module")
def outcomes():
    found = run_conformance("kit_broken", plugins_dirs=[BROKEN], partners=PARTNERS)
    return {o.id: o for o in found}


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("samplers:kit_global_rng:sample", "changed the global torch RNG"),
        ("methods:kit_nondeterministic:train", "the same seed gave another training curve"),
        ("models:kit_wrong_shape:build", "must return [B]"),
        ("metrics:kit_backwards:direction", "direction 'higher', but the perfect model scores"),
        ("metrics:kit_no_summary:metadata", "summary is empty"),
    ],
)
def test_each_fault_fails_its_check(outcomes, case, fragment):
    assert outcomes[case].status == "failed", outcomes[case]
    assert fragment in outcomes[case].message, outcomes[case].message


def test_sound_checks_still_pass(outcomes):
    # the faults are specific: the same entries pass what they do not break
    for case in ("methods:kit_nondeterministic:metadata", "models:kit_wrong_shape:compatible"):
        assert outcomes[case].status == "passed", outcomes[case]


def test_unknown_selection_fails_with_the_loaded_names():
    (only,) = run_conformance("no-such-plugin")
    assert only.status == "failed" and "no loaded plugin matches 'no-such-plugin'" in only.message
