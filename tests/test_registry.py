"""Plugin discovery and the registry: in-test plugins, a real third-party distribution
found through entry points, broken plugins, strict mode, duplicates, blocking, plain
.py plugin folders and provenance (ebmbench/registry.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path
import json
import sys
import textwrap
from types import SimpleNamespace

import pytest
from support import BROKEN_DIR, LOCAL_DIR, assert_usage_error, invoke

import ebmbench
from ebmbench.errors import PluginLoadError, UsageError
from ebmbench.registry import LoadConfig, load_registry

BUILTIN_METHODS = {"pcd", "dsm", "kmeans"}


class InTestMethod(ebmbench.Method):
    name = "in_test_method"
    family = "contrastive"
    summary = "registered by an in-test plugin object"
    params = {"k": ebmbench.Param(2, "k", low=1)}


class InTestSampler(ebmbench.Sampler):
    name = "in_test_sampler"


def plugin(kind: str, *classes):
    """A plugin object whose register hook for `kind` registers `classes`."""

    def hook(register):
        for cls in classes:
            register(cls)

    hook.__name__ = f"ebmbench_register_{kind}"
    return SimpleNamespace(**{hook.__name__: ebmbench.hookimpl(hook)})


def by_name(registry):
    return {p.name: p for p in registry.plugins}


# ------------------------------------------------------------------ in-test plugins
def test_builtins_load_through_entry_points():
    reg = load_registry(LoadConfig())
    assert BUILTIN_METHODS <= set(reg.names("methods"))
    assert {"8gaussians", "2spirals", "horn"} <= set(reg.names("tasks"))
    assert {"mlp", "kmeans"} <= set(reg.names("models"))
    assert "langevin" in reg.names("samplers")
    assert {"energy_gap", "auroc_noise", "mmd2", "inference_error", "completion"} <= set(reg.names("metrics"))
    for p in reg.plugins:
        assert p.status == "loaded", (p.name, p.error)
        assert p.dist == "ebmbench" and p.version == ebmbench.__version__
        assert p.module.startswith("ebmbench_plugins.")
    pcd = reg.get("methods", "pcd")
    assert pcd.plugin == "methods.pcd" and pcd.dist == "ebmbench"


def test_in_test_plugin_objects_namespace_and_class():
    class ClassPlugin:  # a class works as a plugin object too
        @ebmbench.hookimpl
        def ebmbench_register_samplers(register):
            register(InTestSampler)

    reg = load_registry(LoadConfig(), extra_plugins=(("ns", plugin("methods", InTestMethod)), ("cls", ClassPlugin)))
    info = by_name(reg)
    assert info["ns"].status == "loaded" and info["ns"].entries == ["methods:in_test_method"]
    assert info["ns"].hooks == ["ebmbench_register_methods"]
    assert info["cls"].status == "loaded" and info["cls"].entries == ["samplers:in_test_sampler"]
    entry = reg.get("methods", "in_test_method")
    assert entry.plugin == "ns" and entry.dist is None
    method = reg.make("methods", "in_test_method", k="5")
    assert isinstance(method, InTestMethod) and method.p == {"k": 5}
    assert BUILTIN_METHODS <= set(reg.names("methods"))


def test_unknown_entry_name_suggests_close_match():
    reg = load_registry(LoadConfig())
    with pytest.raises(UsageError, match="did you mean 'pcd'"):
        reg.get("methods", "pcdd")


# ------------------------------------------------------------- third-party package
def make_distribution(root, entry_points: str, version: str = "1.0"):
    """A throwaway installed distribution `thirdparty_ebm` (module + dist-info) in `root`."""
    pkg = root / "thirdparty_ebm"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent('''
        """A third-party ebmbench plugin: a standard-normal 2-D task."""
        import math

        import ebmbench
        from ebmbench.lazy import lazy_import

        torch = lazy_import("torch")


        class StdNormal2D(ebmbench.Task):
            name = "tp_normal"
            kind = "unconditional"
            dim = 2
            domain = ((-4.0, 4.0), (-4.0, 4.0))
            main_metric = "energy_gap"
            ground_truth = frozenset({"log_density", "sampler"})
            summary = "standard normal in 2-D (third-party test plugin)"

            def sample(self, n, generator, x=None):
                return ebmbench.Split(torch.randn(n, 2, generator=generator))

            def log_density(self, y, x=None):
                return -0.5 * (y ** 2).sum(-1) - math.log(2 * math.pi)


        @ebmbench.hookimpl
        def ebmbench_register_tasks(register):
            register(StdNormal2D)
    ''')
    )
    info = root / f"thirdparty_ebm-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: thirdparty_ebm\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points)
    return pkg


@pytest.fixture
def thirdparty(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "thirdparty_ebm", raising=False)
    make_distribution(tmp_path, "[ebmbench]\nthirdparty = thirdparty_ebm\nbroken_ep = thirdparty_ebm.missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("thirdparty_ebm", None)


def test_third_party_distribution_is_discovered_and_usable(thirdparty):
    reg = load_registry(LoadConfig())
    info = by_name(reg)
    tp = info["thirdparty"]
    assert (tp.status, tp.dist, tp.version) == ("loaded", "thirdparty_ebm", "1.0")
    assert tp.entries == ["tasks:tp_normal"]
    # Its broken sibling entry point fails alone; built-ins load after it regardless.
    assert info["broken_ep"].status == "failed"
    assert "ModuleNotFoundError" in info["broken_ep"].error
    assert BUILTIN_METHODS <= set(reg.names("methods"))

    entry = reg.get("tasks", "tp_normal")
    assert (entry.plugin, entry.dist, entry.version) == ("thirdparty", "thirdparty_ebm", "1.0")
    source = (thirdparty / "thirdparty_ebm" / "__init__.py").read_bytes()
    assert entry.source_hash == hashlib.sha256(b"thirdparty_ebm\0" + source).hexdigest()[:16]

    # Usable: the runner plans and runs a real cell on the third-party task.
    from ebmbench.execution.cell import run_cell
    from ebmbench.executor_api import CellSpec

    spec = CellSpec(
        cell_id="c0",
        task="tp_normal",
        model="kmeans",
        model_params={"k": 4},
        method="kmeans",
        method_params={},
        rep=0,
        seed=1,
        data_seed=2,
        profile="smoke",
        metrics=("energy_gap", "auroc_noise"),
    )
    result = run_cell(spec, reg)
    assert result.status == "done", (result.reason, result.traceback)
    assert result.metrics["auroc_noise"] > 0.8  # 4 prototypes put N(0, I) data far below noise


def test_third_party_in_cli_plugins_and_list_json(thirdparty):
    r = invoke("plugins", "--json")
    assert r.exit_code == 0, r.output
    rows = {p["name"]: p for p in json.loads(r.stdout)}
    assert rows["thirdparty"]["dist"] == "thirdparty_ebm" and rows["thirdparty"]["version"] == "1.0"
    assert rows["thirdparty"]["status"] == "loaded"
    assert rows["thirdparty"]["hooks"] == ["ebmbench_register_tasks"]
    assert rows["broken_ep"]["status"] == "failed" and rows["broken_ep"]["error"]
    tasks = {t["name"]: t for t in json.loads(invoke("list", "tasks", "--json").stdout)}
    assert tasks["tp_normal"]["dist"] == "thirdparty_ebm" and tasks["tp_normal"]["version"] == "1.0"
    assert tasks["tp_normal"]["plugin"] == "thirdparty"


def test_third_party_entry_point_named_like_a_builtin_is_reported_not_dropped(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "thirdparty_ebm", raising=False)
    make_distribution(tmp_path, "[ebmbench]\nmethods.pcd = thirdparty_ebm\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = load_registry(LoadConfig())
    clash = [p for p in reg.plugins if p.name == "methods.pcd"]
    statuses = sorted((p.dist, p.status) for p in clash)
    assert statuses == [("ebmbench", "loaded"), ("thirdparty_ebm", "failed")], statuses
    assert "pcd" in reg.names("methods") and "tp_normal" not in reg.names("tasks")
    sys.modules.pop("thirdparty_ebm", None)


# ---------------------------------------------------------------- broken plugins
def test_broken_plugin_files_fail_alone():
    reg = load_registry(LoadConfig(plugins_dirs=(str(BROKEN_DIR),)))
    info = by_name(reg)
    expect = {
        "a_import_error": "ModuleNotFoundError",
        "b_register_raises": "register hook exploded",
        "c_invalid_class": "family must be one of contrastive, architectural, baseline",
        "d_misspelled_hook": "ebmbench_register_metric",
    }
    for name, fragment in expect.items():
        assert info[name].status == "failed", name
        assert fragment in info[name].error, (name, info[name].error)
        assert "\n" not in info[name].error  # one line; the table stays readable
        assert info[name].entries == []
    assert info["e_fine"].status == "loaded" and info["e_fine"].dist is None
    assert "fixture_fine" in reg.names("metrics")
    assert "bad_family" not in reg.names("methods") and "never_registered" not in reg.names("metrics")
    assert BUILTIN_METHODS <= set(reg.names("methods"))
    assert all(p.status == "loaded" for p in reg.plugins if p.dist == "ebmbench")


def test_in_test_broken_objects_fail_alone():
    def raising(register):
        register(InTestMethod)
        raise ValueError("half-way failure")

    plugins = (
        ("not_a_class", plugin("methods", object)),
        ("half_way", SimpleNamespace(ebmbench_register_methods=ebmbench.hookimpl(raising))),
        ("wrong_arg", SimpleNamespace(ebmbench_register_tasks=ebmbench.hookimpl(lambda reg: None))),
        ("good", plugin("samplers", InTestSampler)),
    )
    reg = load_registry(LoadConfig(), extra_plugins=plugins)
    info = by_name(reg)
    assert "expects a subclass of ebmbench.Method" in info["not_a_class"].error
    assert "half-way failure" in info["half_way"].error
    # all of a plugin's entries or none: the one registered before the failure is gone
    assert "in_test_method" not in reg.names("methods")
    assert info["wrong_arg"].status == "failed"
    assert info["good"].status == "loaded" and "in_test_sampler" in reg.names("samplers")


def test_failed_plugin_hooks_are_not_left_behind():
    """A plugin that failed must not have its hook called by later plugins' loading."""
    calls = []

    def hook(register):
        calls.append(1)
        raise RuntimeError("once")

    bad = SimpleNamespace(ebmbench_register_methods=ebmbench.hookimpl(hook))
    reg = load_registry(LoadConfig(), extra_plugins=(("bad", bad), ("after", plugin("methods", InTestMethod))))
    assert calls == [1]
    assert by_name(reg)["after"].status == "loaded"


# -------------------------------------------------------------------- strict mode
def test_strict_config_makes_a_failure_fatal():
    bad = plugin("methods", object)
    load_registry(LoadConfig(strict=False), extra_plugins=(("bad", bad),))  # tolerated
    with pytest.raises(PluginLoadError, match="plugin 'bad' failed"):
        load_registry(LoadConfig(strict=True), extra_plugins=(("bad", bad),))


@pytest.mark.parametrize("how", ["flag", "env"])
def test_strict_plugins_cli_exits_2_with_one_line(how):
    args = ["plugins", "--plugins-dir", BROKEN_DIR]
    env = None
    if how == "flag":
        args.append("--strict-plugins")
    else:
        env = {"EBMBENCH_STRICT_PLUGINS": "1"}
    line = assert_usage_error(invoke(*args, env=env), "a_import_error")
    assert line.startswith("ebmbench: error:")
    # without strict mode the same folder is reported, exit 0
    r = invoke("plugins", "--plugins-dir", BROKEN_DIR, "--json")
    assert r.exit_code == 0
    assert {p["name"]: p["status"] for p in json.loads(r.stdout)}["a_import_error"] == "failed"


def test_strict_run_fails_before_running_anything(tmp_path):
    r = invoke("run", "-t", "8gaussians", "--strict-plugins", "--plugins-dir", BROKEN_DIR, "--out", tmp_path)
    assert_usage_error(r, "failed")
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------- duplicates
def test_one_name_from_two_plugins_keeps_both_under_qualified_names():
    """Two plugins register one name: both load, each entry answers to `plugin:name`, and
    the bare name is refused as ambiguous, naming both — never a silent winner (it used to
    knock out every entry of the second plugin)."""
    reg = load_registry(
        LoadConfig(),
        extra_plugins=(("first", plugin("methods", InTestMethod)), ("second", plugin("methods", InTestMethod))),
    )
    info = by_name(reg)
    assert info["first"].status == info["second"].status == "loaded"
    assert {"first:in_test_method", "second:in_test_method"} <= set(reg.names("methods"))
    assert "in_test_method" not in reg.names("methods")
    assert reg.get("methods", "second:in_test_method").plugin == "second"
    with pytest.raises(
        UsageError, match="ambiguous method 'in_test_method': first:in_test_method or second:in_test_method"
    ):
        reg.get("methods", "in_test_method")
    assert reg.get("methods", "methods.pcd:pcd").name == "pcd"  # a unique name answers to its qualified one too


def test_a_name_clash_is_one_warning_line_and_the_bare_name_a_usage_error(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "other_pcd.py").write_text(
        "import ebmbench\n\n"
        "class OtherPCD(ebmbench.Method):\n"
        "    name = 'pcd'\n"
        "    family = 'contrastive'\n"
        "    summary = 'a second pcd (test fixture)'\n\n"
        "@ebmbench.hookimpl\n"
        "def ebmbench_register_methods(register):\n"
        "    register(OtherPCD)\n"
    )
    listed = invoke("list", "methods", "--plugins-dir", folder)
    assert listed.exit_code == 0
    assert listed.stderr.splitlines() == [
        "ebmbench: warning: method 'pcd' is registered by plugins 'methods.pcd', 'other_pcd': "
        "name it methods.pcd:pcd or other_pcd:pcd"
    ]
    assert "methods.pcd:pcd" in listed.stdout and "other_pcd:pcd" in listed.stdout
    r = invoke("run", "-t", "8gaussians", "-M", "pcd", "--plugins-dir", folder, "--out", tmp_path / "out")
    assert_usage_error(r, "ambiguous method 'pcd': methods.pcd:pcd or other_pcd:pcd")


def test_duplicate_of_a_builtin_names_the_builtin_provider_in_strict_mode():
    class Impostor(ebmbench.Method):
        name = "pcd"
        family = "contrastive"

    with pytest.raises(PluginLoadError, match="registered by both") as exc:
        load_registry(LoadConfig(strict=True), extra_plugins=(("impostor", plugin("methods", Impostor)),))
    err = str(exc.value)
    assert "'methods.pcd'" in err and f"ebmbench {ebmbench.__version__}" in err and "'impostor'" in err


def test_duplicate_within_one_plugin_is_an_error():
    reg = load_registry(LoadConfig(), extra_plugins=(("twice", plugin("methods", InTestMethod, InTestMethod)),))
    assert by_name(reg)["twice"].status == "failed"
    assert "in_test_method" not in reg.names("methods")


def test_duplicate_is_fatal_in_strict_mode():
    with pytest.raises(PluginLoadError, match="registered by both"):
        load_registry(
            LoadConfig(strict=True),
            extra_plugins=(("a", plugin("methods", InTestMethod)), ("b", plugin("methods", InTestMethod))),
        )


# ----------------------------------------------------------------------- blocking
def test_block_with_p_no_name():
    r = invoke("plugins", "--json", "-p", "no:methods.pcd")
    assert r.exit_code == 0, r.output
    status = {p["name"]: p for p in json.loads(r.stdout)}
    assert status["methods.pcd"]["status"] == "blocked" and status["methods.pcd"]["entries"] == []
    assert status["methods.dsm"]["status"] == "loaded"
    methods = {m["name"] for m in json.loads(invoke("list", "methods", "--json", "-p", "no:methods.pcd").stdout)}
    assert "pcd" not in methods and {"dsm", "kmeans"} <= methods
    assert_usage_error(invoke("run", "-t", "8gaussians", "-M", "pcd", "-p", "no:methods.pcd"), "unknown method 'pcd'")


def test_block_with_env_var():
    env = {"EBMBENCH_DISABLE_PLUGINS": "methods.pcd, methods.dsm"}
    r = invoke("plugins", "--json", env=env)
    status = {p["name"]: p["status"] for p in json.loads(r.stdout)}
    assert status["methods.pcd"] == status["methods.dsm"] == "blocked"
    assert status["methods.kmeans"] == "loaded"
    methods = {m["name"] for m in json.loads(invoke("list", "methods", "--json", env=env).stdout)}
    assert methods.isdisjoint({"pcd", "dsm"})


def test_blocking_a_broken_plugin_keeps_strict_mode_happy():
    cfg = LoadConfig(
        disabled=("a_import_error", "b_register_raises", "c_invalid_class", "d_misspelled_hook"),
        plugins_dirs=(str(BROKEN_DIR),),
        strict=True,
    )
    reg = load_registry(cfg)
    assert by_name(reg)["a_import_error"].status == "blocked"
    assert "fixture_fine" in reg.names("metrics")


def test_bad_p_flag_is_a_usage_error():
    assert_usage_error(invoke("plugins", "-p", "methods.pcd"), "no:NAME")


# ------------------------------------------------------------ plain-file plugins
def test_plugins_dir_flag_loads_plain_py_file():
    r = invoke("list", "methods", "--json", "--plugins-dir", LOCAL_DIR)
    assert r.exit_code == 0, r.output
    local = {m["name"]: m for m in json.loads(r.stdout)}["local_method"]
    assert local["plugin"] == "local_plugin" and local["dist"] is None
    assert local["params"]["rounds"]["default"] == 3


def test_plugins_dir_env_var_loads_plain_py_file(monkeypatch):
    monkeypatch.setenv("EBMBENCH_PLUGINS_DIR", str(LOCAL_DIR))
    reg = load_registry()  # LoadConfig.from_env
    assert reg.get("methods", "local_method").plugin == "local_plugin"
    status = {p["name"]: p["status"] for p in json.loads(invoke("plugins", "--json").stdout)}
    assert status["local_plugin"] == "loaded"


def test_missing_plugins_dir_is_a_usage_error(tmp_path):
    assert_usage_error(invoke("plugins", "--plugins-dir", tmp_path / "nope"), "does not exist")


# --------------------------------------------------------------------- provenance
def test_every_entry_has_provenance():
    from ebmbench.registry import report_metadata

    reg = load_registry(LoadConfig(plugins_dirs=(str(LOCAL_DIR),)))
    prov = reg.provenance()
    assert {p["name"] for p in prov["plugins"]} >= {"methods.pcd", "local_plugin"}
    n = 0
    for kind, entries in prov["entries"].items():
        for name, e in entries.items():
            n += 1
            # plus the metadata the report reads (a method's family, a task's image shape, ...)
            declared = set(report_metadata(kind, reg.get(kind, name).cls))
            expected = {"plugin", "dist", "version", "source_hash"} | declared
            assert set(e) == expected, (kind, name)
            assert kind != "methods" or "family" in e  # the report colours by it
            assert e["plugin"], (kind, name)
            assert len(e["source_hash"]) == 16 and int(e["source_hash"], 16) >= 0
            if e["plugin"] != "local_plugin":
                assert e["dist"] == "ebmbench" and e["version"] == ebmbench.__version__
    assert n >= 13
    # the hash covers the defining file and the helper modules of its package it uses
    from ebmbench.registry import source_files
    from ebmbench_plugins.methods import pcd
    from ebmbench_plugins.models import mlp

    files = source_files(pcd.PCD)
    names = [n for n, _ in files]
    assert "ebmbench_plugins.methods.pcd" in names and "ebmbench_plugins.methods._contrastive" in names
    assert all(n.startswith("ebmbench_plugins.") for n in names)  # never torch or the core
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes())
    assert prov["entries"]["methods"]["pcd"]["source_hash"] == digest.hexdigest()[:16]
    # a helper imported inside a function (mlp's network, in build()) counts too
    assert "ebmbench_plugins.models._nets" in [n for n, _ in source_files(mlp.MLP)]


def test_source_hash_follows_the_file(tmp_path):
    src = (LOCAL_DIR / "local_plugin.py").read_text()
    (tmp_path / "mine.py").write_text(src)

    def hash_now():
        return load_registry(LoadConfig(plugins_dirs=(str(tmp_path),))).get("methods", "local_method").source_hash

    first = hash_now()
    assert hash_now() == first  # stable
    (tmp_path / "mine.py").write_text(src.replace('"rounds", low=1', '"rounds", low=2'))
    second = hash_now()
    assert second != first
    (tmp_path / "mine.py").write_text(src)
    assert hash_now() == first


# ------------------------------------------------------------ plugins that say nothing
def test_a_misspelled_plugin_to_block_is_a_usage_error():
    """`-p no:TYPO` used to block nothing, silently."""
    line = assert_usage_error(invoke("list", "tasks", "-p", "no:metrics.densty"), "-p no:metrics.densty")
    assert "did you mean 'metrics.density'" in line


def test_failed_blocked_and_empty_plugins_get_one_warning_line_each(tmp_path):
    """`list` and `run` name every plugin whose entries are missing: failed, blocked, or
    loaded with nothing registered (a forgotten @ebmbench.hookimpl)."""
    nohook = Path(__file__).parent / "fixtures" / "nohook"
    args = ["--plugins-dir", BROKEN_DIR, "--plugins-dir", nohook, "-p", "no:metrics.fisher"]
    listed = invoke("list", "methods", *args)
    assert listed.exit_code == 0, listed.stderr
    lines = listed.stderr.splitlines()
    failed = [ln for ln in lines if "failed to load" in ln]
    assert len(failed) == 4 and all(ln.startswith("ebmbench: warning: plugin ") for ln in failed)
    assert any("ModuleNotFoundError" in ln for ln in failed)
    assert [ln for ln in lines if "is blocked" in ln] == [
        "ebmbench: warning: plugin 'metrics.fisher' is blocked (-p no:metrics.fisher or EBMBENCH_DISABLE_PLUGINS)"
    ]
    assert [ln for ln in lines if "registered nothing" in ln] == [
        "ebmbench: warning: plugin 'forgot_hookimpl' registered nothing: are its hooks marked @ebmbench.hookimpl?"
    ]
    assert len(lines) == 6
    ran = invoke("run", "-t", "8gaussians", "-m", "kmeans", "-M", "kmeans", "--profile", "smoke", "--seeds", "1",
                 "--no-report", "--out", tmp_path, *args)  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    assert sum("ebmbench: warning: plugin " in ln for ln in ran.stderr.splitlines()) == 6


def test_every_built_in_plugin_module_is_declared_as_an_entry_point():
    """plugins/ and pyproject.toml cannot drift: a module with hook implementations that
    is not declared would never load (built-ins load only through their entry points,
    like any third-party plugin), and a declared module must exist."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    declared = set(tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]["ebmbench"].values())
    with_hooks = {
        "ebmbench_plugins." + ".".join(path.relative_to(root / "plugins").with_suffix("").parts)
        for path in (root / "plugins").rglob("*.py")
        if not path.name.startswith("_") and "@ebmbench.hookimpl" in path.read_text()
    }
    assert with_hooks - declared == set(), "modules with hooks missing from [project.entry-points.ebmbench]"
    modules = {
        "ebmbench_plugins." + ".".join(p.relative_to(root / "plugins").with_suffix("").parts)
        for p in (root / "plugins").rglob("*.py")
    }
    assert declared - modules == set(), "entry points naming no module under plugins/"


def test_a_task_whose_main_metric_cannot_rank_it_is_named():
    """A typo in main_metric, a main metric without a direction, and a domain beyond the
    fixed [-4.5, 4.5]^2 grid (every grid metric lost) used to pass unnoticed; now each is
    one warning line in `list` (and `run`), naming the task, its plugin and the field."""
    bad = Path(__file__).parent / "fixtures" / "badtasks"
    r = invoke("list", "tasks", "--plugins-dir", bad)
    assert r.exit_code == 0, r.stderr
    lines = [ln.split("): ", 1)[1] for ln in r.stderr.splitlines() if "(plugin 'misdeclared_tasks'" in ln]
    assert "main_metric 'nll_grd' is not a loaded metric; did you mean 'nll_grid'?" in lines
    assert "main_metric 'beta_cal' has no direction: it cannot rank the methods" in lines
    assert any(ln.startswith("main_metric 'nll_grid' does not apply: task domain lies outside") for ln in lines)
    assert len(r.stderr.splitlines()) == 3
    assert invoke("list", "tasks").stderr == ""  # the built-in tasks declare metrics that rank them


def test_plugins_declare_the_plugin_api_they_were_written_for():
    """`EBMBENCH_PLUGIN_API = N` in a plugin module: the current version loads and
    `ebmbench plugins` shows it; another fails that plugin with one line naming both."""
    folder = Path(__file__).parent / "fixtures" / "apiversion"
    r = invoke("plugins", "--json", "--plugins-dir", folder)
    assert r.exit_code == 0, r.stderr
    info = {p["name"]: p for p in json.loads(r.stdout)}
    assert ebmbench.PLUGIN_API_VERSION == 1
    assert info["current_api"]["status"] == "loaded" and info["current_api"]["api_version"] == 1
    assert info["current_api"]["entries"] == ["samplers:current_api_sampler"]
    assert info["future_api"]["status"] == "failed" and info["future_api"]["entries"] == []
    assert info["future_api"]["error"] == (
        f"written for plugin API 99; this ebmbench {ebmbench.__version__} speaks plugin API 1"
    )
    assert info["methods.pcd"]["api_version"] is None  # declaring it is optional
    table = invoke("plugins", "--plugins-dir", folder).stdout
    assert "plugin API 1" in table


def test_the_default_evaluation_sampler_is_declared_by_a_sampler_plugin():
    """The core used to name `langevin`; now the sampler that declares
    `default_for_evaluation` on its own class is the default, and without one a metric
    that needs samples fails alone (metric_errors), with a message saying why."""
    from ebmbench.registry import LoadConfig, load_registry

    assert load_registry(LoadConfig()).default_sampler() == "sir_mala"
    blocked = load_registry(LoadConfig(disabled=("samplers.metropolis",)))
    with pytest.raises(RuntimeError, match="no loaded sampler declares default_for_evaluation"):
        blocked.default_sampler()
    langevin = load_registry(LoadConfig()).get("samplers", "langevin").cls
    assert not type("Mine", (langevin,), {"name": "mine"}).__dict__.get("default_for_evaluation")  # not inherited


def test_a_name_from_a_plugin_that_failed_says_so():
    """ "did you mean" used to mislead when the name exists in a plugin that failed: now
    the one line names the plugin and why it failed."""
    r = invoke("run", "-t", "8gaussians", "-M", "bad_family", "--plugins-dir", BROKEN_DIR, "--no-report")
    line = assert_usage_error(r, "method 'bad_family' belongs to plugin 'c_invalid_class', which failed to load")
    assert "family must be one of contrastive, architectural, baseline" in line


def test_source_hash_follows_a_helper_imported_inside_a_function(tmp_path, monkeypatch):
    """Editing a helper module that a plugin imports only inside a method must change the
    hash (the cache key): it used to be missed, and stale cells were reused."""
    pkg = tmp_path / "hashpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_helper.py").write_text("ROUNDS = 3\n")
    (pkg / "plug.py").write_text(
        "import ebmbench\n\n"
        "class Late(ebmbench.Method):\n"
        "    name = 'late_import'\n"
        "    family = 'architectural'\n\n"
        "    def train(self, model, data, ctx):\n"
        "        from hashpkg._helper import ROUNDS  # only here\n"
        "        return ROUNDS\n\n"
        "@ebmbench.hookimpl\n"
        "def ebmbench_register_methods(register):\n"
        "    register(Late)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("hashpkg", "hashpkg.plug", "hashpkg._helper"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import importlib

    module = importlib.import_module("hashpkg.plug")

    def hash_now():
        registry = load_registry(LoadConfig(), extra_plugins=(("hashpkg", module),))
        return registry.get("methods", "late_import").source_hash

    first = hash_now()
    assert "hashpkg._helper" not in sys.modules  # found in the source, not by importing it
    (pkg / "_helper.py").write_text("ROUNDS = 4  # a changed helper\n")
    assert hash_now() != first
