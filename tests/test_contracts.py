"""The contracts' vocabularies and the registration checks (ebmbench/contracts.py,
ebmbench/contract_checks.py): each broken in-test class fails its plugin with one line
naming the entry and the field, through the registry as any plugin would."""

from __future__ import annotations

import math
from typing import get_args

import pytest
from support import invoke
from test_registry import plugin  # a plugin object registering the given classes

import ebmbench
from ebmbench import contracts
from ebmbench.errors import PluginLoadError
from ebmbench.registry import LoadConfig, load_registry

# only the built-ins the cases below need: loading is the slow part of these tests
BUILTINS_KEPT = ("metrics.energy",)


def _builtins() -> tuple[str, ...]:
    return tuple(p.name for p in load_registry(LoadConfig()).plugins if p.name not in BUILTINS_KEPT)


# --------------------------------------------------------------------- in-test classes
class GoodTask(ebmbench.Task):
    name = "good_task"
    dim = 2
    domain = ((-1.0, 1.0), (-1.0, 1.0))
    main_metric = "energy_gap"
    ground_truth = frozenset({"sampler", "posterior_mean"})  # a new kind of the plugin's own
    tags = frozenset({"2d", "my-tag"})


class GoodImages(GoodTask):
    name = "good_images"
    kind = "conditional"
    dim, x_dim = 12, 4
    domain = ((0.0, 1.0),) * 12
    image_shape = (4, 4)  # x the top row, y the other three


class GoodModel(ebmbench.Model):
    name = "good_model"
    family = "flow"  # a new family
    inverse_temperature_param = "beta"
    params = {"beta": ebmbench.Param(math.inf, "inverse temperature", low=1e-6)}


class GoodMethod(ebmbench.Method):
    name = "good_method"
    family = "baseline"
    model_families = frozenset({"flow", "neural"})


class GoodMetric(ebmbench.Metric):
    name = "good_metric"
    direction = "lower"
    requires = frozenset({"posterior_mean"})
    curve_probe = True
    unbiased_nonnegative = True


def _task(name, **attrs):
    return type(name, (GoodTask,), {"name": name, **attrs})


def _model(name, **attrs):
    return type(name, (GoodModel,), {"name": name, **attrs})


def _method(name, **attrs):
    return type(name, (GoodMethod,), {"name": name, **attrs})


def _metric(name, **attrs):
    return type(name, (GoodMetric,), {"name": name, **attrs})


# (plugin name, kind, class, the plugin's one-line error)
BROKEN = [
    (
        "image_pixels",
        "tasks",
        _task("bad_image", dim=64, domain=((0.0, 1.0),) * 64, image_shape=(8, 9)),
        "task 'bad_image': image_shape (8, 9) has 72 pixels, not dim 64",
    ),
    (
        "image_type",
        "tasks",
        _task("bad_image2", image_shape=(2.0, 1)),
        "task 'bad_image2': image_shape must be None or (rows, cols), two ints >= 1, got (2.0, 1)",
    ),
    (
        "ground_truth_typo",
        "tasks",
        _task("typo_truth", ground_truth=frozenset({"log_densty"})),
        "task 'typo_truth': ground_truth 'log_densty' is not a ground-truth kind; did you mean 'log_density'? "
        "(a new ground-truth kind must not be a near-miss of a known one)",
    ),
    (
        "ground_truth_case",
        "tasks",
        _task("upper_truth", ground_truth=frozenset({"Exact"})),
        "task 'upper_truth': ground_truth 'Exact' is not a ground-truth kind: a lowercase identifier is needed "
        "(^[a-z][a-z0-9_]*$)",
    ),
    (
        "dim_float",
        "tasks",
        _task("float_dim", dim=2.0),
        "task 'float_dim': dim must be an int >= 1, got 2.0",
    ),
    (
        "domain_short",
        "tasks",
        _task("short_domain", domain=((-1.0, 1.0),)),
        "task 'short_domain': domain has 1 (low, high) pairs, dim is 2 (one per coordinate of y)",
    ),
    (
        "domain_order",
        "tasks",
        _task("flipped_domain", domain=((-1.0, 1.0), (1.0, -1.0))),
        "task 'flipped_domain': domain [1] must be finite numbers with low < high, got (1.0, -1.0)",
    ),
    (
        "kind_typo",
        "tasks",
        _task("typo_kind", kind="conditonal"),
        "task 'typo_kind': kind must be one of unconditional, conditional (task kinds), got 'conditonal'; "
        "did you mean 'conditional'?",
    ),
    (
        "conditional_no_x",
        "tasks",
        _task("no_x", kind="conditional"),
        "task 'no_x': x_dim must be >= 1 for a conditional task (the width of x)",
    ),
    (
        "headline_str",
        "tasks",
        _task("one_headline", headline_metrics="mmd2"),
        "task 'one_headline': headline_metrics must be a tuple of metric names, got 'mmd2'",
    ),
    (
        "tag_case",
        "tasks",
        _task("upper_tag", tags=frozenset({"Image"})),
        "task 'upper_tag': tags 'Image' must be lowercase letters, digits, '_' or '-' (^[a-z0-9][a-z0-9_-]*$)",
    ),
    (
        "missing_main",
        "tasks",
        type("NoMain", (ebmbench.Task,), {"name": "no_main", "dim": 1, "domain": ((0.0, 1.0),)}),
        "task 'no_main': main_metric is required and missing",
    ),
    (
        "bad_name",
        "tasks",
        _task("Bad Name"),
        "task 'Bad Name': name must be a lowercase identifier (^[a-z0-9][a-z0-9_.+-]*$), got 'Bad Name'",
    ),
    (
        "summary_lines",
        "tasks",
        _task("two_lines", summary="first\nsecond"),
        "task 'two_lines': summary must be one line (it is a column of `ebmbench list`)",
    ),
    (
        "family_typo",
        "models",
        _model("typo_family", family="nueral"),
        "model 'typo_family': family 'nueral' is not a model family; did you mean 'neural'? "
        "(a new model family must not be a near-miss of a known one)",
    ),
    (
        "family_case",
        "models",
        _model("upper_family", family="Flow"),
        "model 'upper_family': family 'Flow' is not a model family: a lowercase identifier is needed "
        "(^[a-z][a-z0-9_]*$)",
    ),
    (
        "kinds_empty",
        "models",
        _model("no_kinds", kinds=frozenset()),
        "model 'no_kinds': kinds must not be empty",
    ),
    (
        "latent_int",
        "models",
        _model("int_latent", latent=1),
        "model 'int_latent': latent must be True or False, got 1",
    ),
    (
        "temperature_missing",
        "models",
        _model("no_beta", inverse_temperature_param="betta"),
        "model 'no_beta': inverse_temperature_param 'betta' is not one of its params (beta); did you mean 'beta'?",
    ),
    (
        "temperature_int",
        "models",
        _model("int_beta", params={"beta": ebmbench.Param(1, "an int")}),
        "model 'int_beta': inverse_temperature_param 'beta' must be a float parameter (β, inf for F∞), it is int",
    ),
    (
        "param_not_param",
        "models",
        _model("raw_param", params={"k": 3}, inverse_temperature_param=None),
        "model 'raw_param': params['k'] must be an ebmbench.Param, got int",
    ),
    (
        "param_default_out",
        "models",
        _model(
            "zero_lr", params={"lr": ebmbench.Param(0.0, "lr", low=0, low_open=True)}, inverse_temperature_param=None
        ),
        "model 'zero_lr': params['lr'] default 0.0 is outside what it allows (float in (0, inf): too small)",
    ),
    (
        "param_choices",
        "models",
        _model(
            "bad_choice",
            params={"act": ebmbench.Param("relu", "act", choices=("silu", "tanh"))},
            inverse_temperature_param=None,
        ),
        "model 'bad_choice': params['act'] default 'relu' is not one of its choices ('silu', 'tanh')",
    ),
    (
        "param_key",
        "models",
        _model("dash_key", params={"hidden-size": ebmbench.Param(8)}, inverse_temperature_param=None),
        "model 'dash_key': params['hidden-size'] must be named by a Python identifier (it is a keyword on the "
        "command line)",
    ),
    (
        "method_family_typo",
        "methods",
        _method("typo_method", family="baselin"),
        "method 'typo_method': family must be one of contrastive, architectural, baseline (method families), "
        "got 'baselin'; did you mean 'baseline'?",
    ),
    (
        "method_model_families_typo",
        "methods",
        _method("typo_models", model_families=frozenset({"prototypes"})),
        "method 'typo_models': model_families 'prototypes' is not a model family; did you mean 'prototype'? "
        "(a new model family must not be a near-miss of a known one)",
    ),
    (
        "method_task_kinds",
        "methods",
        _method("typo_kinds", task_kinds=frozenset({"unconditonal"})),
        "method 'typo_kinds': task_kinds must be one of unconditional, conditional (task kinds), got "
        "'unconditonal'; did you mean 'unconditional'?",
    ),
    (
        "metric_direction",
        "metrics",
        _metric("typo_direction", direction="lowr"),
        "metric 'typo_direction': direction must be 'higher', 'lower' or 'none' (a reported quantity such as a "
        "fitted temperature), got 'lowr'; did you mean 'lower'?",
    ),
    (
        "metric_requires_str",
        "metrics",
        _metric("bare_requires", requires="log_density"),
        "metric 'bare_requires': requires must be a frozenset of ground-truth kind names (str), got 'log_density'",
    ),
    (
        "metric_probe_unranked",
        "metrics",
        _metric("unranked_probe", direction="none"),
        "metric 'unranked_probe': curve_probe needs a ranked metric (direction 'higher' or 'lower'): a curve "
        "compares methods",
    ),
    (
        "metric_probe_int",
        "metrics",
        _metric("int_probe", curve_probe=1),
        "metric 'int_probe': curve_probe must be True or False, got 1",
    ),
    (
        "metric_max_dim",
        "metrics",
        _metric("zero_dim", max_dim=0),
        "metric 'zero_dim': max_dim must be a number >= 1 (math.inf: any dimension), got 0",
    ),
    (
        "metric_tolerance",
        "metrics",
        _metric("neg_tol", tolerance=(0.1, -1.0)),
        "metric 'neg_tol': tolerance must be None or (relative, absolute) >= 0, got (0.1, -1.0)",
    ),
    (
        "metric_reserved",
        "metrics",
        _metric("seed"),
        "metric 'seed': name is reserved for a result column",
    ),
    (
        "sampler_flag",
        "samplers",
        type("Flag", (ebmbench.Sampler,), {"name": "flag_sampler", "default_for_evaluation": "yes"}),
        "sampler 'flag_sampler': default_for_evaluation must be True or False, got 'yes'",
    ),
]


@pytest.fixture(scope="module")
def registry():
    good = (
        ("good_tasks", plugin("tasks", GoodTask, GoodImages)),
        ("good_models", plugin("models", GoodModel)),
        ("good_methods", plugin("methods", GoodMethod)),
        ("good_metrics", plugin("metrics", GoodMetric)),
    )
    broken = tuple((name, plugin(kind, cls)) for name, kind, cls, _ in BROKEN)
    return load_registry(LoadConfig(disabled=_builtins()), extra_plugins=good + broken)


@pytest.mark.parametrize("name,kind,cls,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_entry_fails_its_plugin_with_one_line(registry, name, kind, cls, message):
    info = next(p for p in registry.plugins if p.name == name)
    assert info.status == "failed" and info.entries == []
    assert info.error == message
    assert info.attempted == [f"{kind}:{cls.name}"]


def test_good_entries_load_with_open_vocabularies(registry):
    for name in ("good_tasks", "good_models", "good_methods", "good_metrics"):
        info = next(p for p in registry.plugins if p.name == name)
        assert info.status == "loaded", (name, info.error)
    task = registry.make("tasks", "good_task")
    # a new ground-truth kind: declared by the task, required by the metric, which then applies
    assert registry.make("metrics", "good_metric").applies_to(task) is None
    model = registry.get("models", "good_model")
    assert registry.make("methods", "good_method").compatible(model.make(), task) is None
    described = registry.get("tasks", "good_images").describe()
    assert described["image_shape"] == [4, 4]
    assert model.describe()["inverse_temperature_param"] == "beta"
    metric = registry.get("metrics", "good_metric").describe()
    assert metric["curve_probe"] is True and metric["unbiased_nonnegative"] is True and metric["max_dim"] is None


def test_run_json_records_what_the_report_draws_by(registry):
    entries = registry.provenance()["entries"]
    assert entries["tasks"]["good_images"]["image_shape"] == [4, 4]
    assert "image_shape" not in entries["tasks"]["good_task"]
    assert entries["models"]["good_model"]["inverse_temperature_param"] == "beta"
    assert entries["methods"]["good_method"] == entries["methods"]["good_method"] | {
        "family": "baseline",
        "inverse_temperature_param": None,
    }
    assert entries["metrics"]["good_metric"]["unbiased_nonnegative"] is True
    assert "unbiased_nonnegative" not in entries["metrics"]["energy_gap"]


def test_a_broken_entry_is_fatal_with_strict_plugins():
    _, kind, cls, message = BROKEN[0]
    with pytest.raises(PluginLoadError) as err:
        load_registry(LoadConfig(disabled=_builtins(), strict=True), extra_plugins=(("strictly", plugin(kind, cls)),))
    assert str(err.value) == f"plugin 'strictly' failed: {message}"


def test_plugins_command_shows_the_contract_error(tmp_path):
    (tmp_path / "bad_contract.py").write_text(
        "import ebmbench\n\n\n"
        "class Blobs(ebmbench.Task):\n"
        "    name = 'blobs'\n"
        "    dim = 64\n"
        "    domain = ((0.0, 1.0),) * 64\n"
        "    main_metric = 'energy_gap'\n"
        "    image_shape = (8, 9)\n\n\n"
        "@ebmbench.hookimpl\n"
        "def ebmbench_register_tasks(register):\n"
        "    register(Blobs)\n"
    )
    result = invoke("plugins", "--json", "--plugins-dir", tmp_path)
    import json

    (info,) = [p for p in json.loads(result.output) if p["name"] == "bad_contract"]
    assert info["status"] == "failed"
    assert info["error"] == "task 'blobs': image_shape (8, 9) has 72 pixels, not dim 64"
    strict = invoke("list", "tasks", "--strict-plugins", "--plugins-dir", tmp_path)
    assert strict.exit_code == 2
    assert "plugin 'bad_contract' failed: task 'blobs': image_shape (8, 9) has 72 pixels" in strict.stderr


# ------------------------------------------------------------------------- vocabularies
def test_literals_and_documented_words_agree():
    pairs = [
        (contracts.TaskKind, contracts.TASK_KINDS),
        (contracts.GroundTruth, contracts.GROUND_TRUTH),
        (contracts.MethodFamily, contracts.METHOD_FAMILIES),
        (contracts.ModelFamily, contracts.MODEL_FAMILIES),
        (contracts.Direction, contracts.DIRECTIONS),
        (contracts.CurveName, contracts.CURVE_NAMES),
    ]
    for literal, words in pairs:
        assert set(get_args(literal)) == set(words)
        assert all(isinstance(v, str) and v for v in words.values())
    assert set(contracts.SamplerStats.__annotations__) == set(contracts.SAMPLER_STATS)
    assert set(contracts.CORE_CURVES) <= set(contracts.CURVE_NAMES)


def test_the_built_ins_use_only_documented_words():
    reg = load_registry(LoadConfig())
    truths = {w for n in reg.names("tasks") for w in reg.get("tasks", n).cls.ground_truth}
    truths |= {w for n in reg.names("metrics") for w in reg.get("metrics", n).cls.requires}
    assert truths == set(contracts.GROUND_TRUTH)  # all seven are in use
    families = {reg.get("models", n).cls.family for n in reg.names("models")}
    assert families == set(contracts.MODEL_FAMILIES)
    assert {reg.get("methods", n).cls.family for n in reg.names("methods")} <= set(contracts.METHOD_FAMILIES)
    images = {n: reg.get("tasks", n).cls.image_shape for n in reg.names("tasks")}
    assert images["digits"] == (8, 8) and images["digits-inpaint"] == (8, 8) and images["digits-classify"] is None
    sweeps = {n for n in reg.names("models") if reg.get("models", n).cls.inverse_temperature_param}
    assert sweeps == {n for n in reg.names("models") if "beta" in reg.get("models", n).cls.params}


def test_stats_problems():
    assert contracts.stats_problems({"grad_evals": 10.0, "acceptance": 0.5, "temperature": 1.0}) == []
    assert contracts.stats_problems({"acceptance": 1.5, "grad_evals": -1.0, "step": "x"}) == [
        "stats['step'] must be a float, got str",
        "stats['grad_evals'] = -1.0 is outside [0, inf]",
        "stats['acceptance'] = 1.5 is outside [0, 1]",
    ]
    assert contracts.stats_problems({"temperature": 1.0}) == [
        "stats lacks 'grad_evals' (0.0 for a gradient-free sampler)"
    ]
    assert contracts.stats_problems([1.0]) == ["stats must be a dict of str -> float, got list"]
    assert contracts.stats_problems({"grad_evals": 0, "acceptance": math.nan}) == []  # nan: undefined, allowed


def test_energy_module_protocols():
    import torch

    class Plain(torch.nn.Module):
        def forward(self, y, x=None):
            return y.pow(2).sum(1)

    class Latent(Plain):
        def latent_energy(self, y, z, x=None):
            return (y - z).pow(2).sum(1)

        def free_energy(self, y, x=None, beta=math.inf):
            return self(y)

    assert isinstance(Plain(), contracts.EnergyModule) and not isinstance(Plain(), contracts.LatentEnergyModule)
    assert isinstance(Latent(), contracts.LatentEnergyModule)
    assert not isinstance(object(), contracts.EnergyModule)


def test_near_misses_are_typos_and_short_new_words_are_not():
    from ebmbench.contract_checks import near_miss

    known = {**contracts.MODEL_FAMILIES, **contracts.GROUND_TRUTH}
    typos = {"nueral": "neural", "prototypes": "prototype", "log_densty": "log_density", "latentgrid": "latent_grid"}
    for word, meant in typos.items():
        assert near_miss(word, known) == meant
    for word in ("glow", "flow", "posterior", "neural", "energy_flow"):
        assert near_miss(word, known) is None, word
