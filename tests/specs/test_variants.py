"""Wheel variants (PEP 825 draft, providers draft, PEP 817): filenames, variant metadata,
which variants a machine supports from static lists, and the order it prefers them in —
down to a test index serving variant wheels and their ``-variants.json``."""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from shipyard.specs.variant_providers import (
    builtin_properties,
    nvidia_properties,
    parse_properties,
    resolve_supported,
)
from shipyard.specs.variants import (
    VariantMetadata,
    VariantMetadataError,
    combine_variant_metadata,
    group_wheels,
    is_compatible,
    order_variants,
    parse_variant_metadata,
    parse_variant_wheel_filename,
    parse_variants_json_filename,
    selected_properties,
    variants_json_filename,
)
from support import MakeIndex
from support.variant_wheels import Variant, build_variant_wheel, publish_variants, variant_document

SCHEMA = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"


def metadata(document: dict[str, Any], where: str = "test-1.0-variants.json") -> VariantMetadata:
    return parse_variant_metadata(json.dumps(document).encode(), where=where)


#: After PEP 825's ``foo-1.2.3-variants.json``: CPU level and BLAS library variants.
BLAS = {
    "$schema": SCHEMA,
    "default-priorities": {"namespace": ["x86_64", "aarch64", "blas_lapack"]},
    "variants": {
        "null": {},
        "x86_64_v3_openblas": {
            "blas_lapack": {"library": ["openblas"]},
            "x86_64": {"level": ["v3"]},
        },
        "x86_64_v4_mkl": {"blas_lapack": {"library": ["mkl"]}, "x86_64": {"level": ["v4"]}},
        "x86_64_v3": {"x86_64": {"level": ["v3"]}},
        "openblas": {"blas_lapack": {"library": ["openblas"]}},
    },
}


# -- filenames --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "label", "build"),
    [
        ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64.whl", None, ()),
        ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl", "x86_64_v3", ()),
        ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-null.whl", "null", ()),
        ("numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64.whl", None, (1, "")),
        ("numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl", "x86_64_v3", (1, "")),
        ("torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu12.8.whl", "cu12.8", ()),
    ],
)
def test_variant_label_follows_the_platform_tag(
    filename: str, label: str | None, build: tuple[()] | tuple[int, str]
) -> None:
    parsed = parse_variant_wheel_filename(filename)
    assert parsed.label == label
    assert parsed.build == build
    stripped = filename if label is None else filename.replace(f"-{label}.whl", ".whl")
    assert tuple(parsed)[:4] == parse_wheel_filename(stripped)


@pytest.mark.parametrize(
    "filename",
    [
        "numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-X86.whl",  # labels are lower case
        "numpy-2.3.2-1-2-cp313-cp313t-any-x.whl",  # too many parts
        "numpy-2.3.2-cp313-cp313-any-lab-el.whl",  # with its label off, no valid wheel name
        "numpy-2.3.2-py3-none.whl",
    ],
)
def test_invalid_wheel_names_are_rejected_like_packaging_does(filename: str) -> None:
    with pytest.raises(InvalidWheelFilename):
        parse_variant_wheel_filename(filename)


def test_index_metadata_filename_is_normalized_like_wheel_names() -> None:
    assert variants_json_filename("Foo.Bar", "1.02") == "foo_bar-1.2-variants.json"
    assert parse_variants_json_filename("foo_bar-1.2-variants.json") == ("foo-bar", Version("1.2"))
    assert parse_variants_json_filename("foo_bar-1.2-py3-none-any.whl") is None
    assert parse_variants_json_filename("foo_bar-notaversion-variants.json") is None


# -- metadata ---------------------------------------------------------------------------------


def test_index_metadata_maps_labels_to_properties() -> None:
    parsed = metadata(BLAS)
    assert parsed.namespaces == ("x86_64", "aarch64", "blas_lapack")
    assert parsed.properties_of("x86_64_v4_mkl") == {
        "blas_lapack": {"library": ("mkl",)},
        "x86_64": {"level": ("v4",)},
    }
    assert parsed.properties_of("null") == {}
    assert parsed.properties_of("unknown") is None
    assert metadata(parsed.as_dict()) == parsed
    kept = parsed.as_dict(labels={"x86_64_v3"})
    assert kept["variants"] == {"x86_64_v3": {"x86_64": {"level": ["v3"]}}}
    assert kept["default-priorities"]["namespace"] == ["x86_64"]


def test_null_variant_is_known_even_when_not_listed() -> None:
    document = {**BLAS, "variants": {"x86_64_v3": {"x86_64": {"level": ["v3"]}}}}
    assert metadata(document).properties_of("null") == {}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"$schema": "https://variants-schema.wheelnext.dev/peps/825/v2.0.0.json"}, "$schema"),
        ({"$schema": "https://example.com/schema.json"}, "$schema"),
        ({"default-priorities": {"namespace": []}}, "is empty"),
        ({"default-priorities": {}}, "default-priorities.namespace"),
        ({"variants": {"x": {"nvidia": {"sm_arch": ["90_real"]}}}}, "variants.x.nvidia"),
        ({"variants": {"null": {"x86_64": {"level": ["v3"]}}}}, "null variant"),
        ({"variants": {"Bad": {}}}, "invalid key 'Bad'"),
        ({"variants": {"x": {"x86_64": {"level": ["V3"]}}}}, "invalid name 'V3'"),
        ({"variants": {"x": {"x86_64": {"level": []}}}}, "no values"),
        ({"variants": {"x": {"x86_64": {"level": "v3"}}}}, "not a list of strings"),
        ({"providers": {"x86_64": {"enable-if": "platform_system = 'Linux'"}}}, "enable-if"),
    ],
)
def test_invalid_metadata_says_where_and_what(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(VariantMetadataError) as caught:
        metadata({**BLAS, **change}, where="https://example.com/foo-1.2.3-variants.json")
    assert "https://example.com/foo-1.2.3-variants.json" in caught.value.message
    assert problem in caught.value.message
    assert caught.value.hint


def test_metadata_that_is_no_json_object_is_reported() -> None:
    for data in (b"{", b"[]"):
        with pytest.raises(VariantMetadataError, match=r"foo\.json"):
            parse_variant_metadata(data, where="foo.json")


def test_wheel_metadata_combines_as_pep_825_says() -> None:
    first = metadata({**BLAS, "variants": {"a": {"x86_64": {"level": ["v3"]}}}})
    longer = {"namespace": ["x86_64", "aarch64", "blas_lapack", "nvidia"]}
    second = metadata({**BLAS, "default-priorities": longer, "variants": {"null": {}}})
    combined = combine_variant_metadata([first, second], where="wheels of foo 1.0")
    assert combined.namespaces == tuple(longer["namespace"])
    assert set(combined.variants) == {"a", "null"}
    clash = metadata({**BLAS, "variants": {"a": {"x86_64": {"level": ["v4"]}}}})
    with pytest.raises(VariantMetadataError, match=r"variants\.a"):
        combine_variant_metadata([first, clash], where="wheels of foo 1.0")
    other_order = metadata(
        {**BLAS, "default-priorities": {"namespace": ["blas_lapack"]}, "variants": {}}
    )
    with pytest.raises(VariantMetadataError, match="namespace"):
        combine_variant_metadata([first, other_order], where="wheels of foo 1.0")


# -- compatibility and order -------------------------------------------------------------------

#: PEP 825's property example: one value per feature must be supported.
GPU_BUILD: dict[str, dict[str, tuple[str, ...]]] = {
    "x86_64": {"level": ("v3",), "avx512_bf16": ("on",)},
    "nvidia": {"cuda_version_lower_bound": ("12.8",), "sm_arch": ("110_real", "120_real")},
}


def test_a_variant_needs_one_supported_value_for_every_feature() -> None:
    machine: dict[str, Mapping[str, Sequence[str]]] = {
        "x86_64": {"level": ["v4", "v3", "v2", "v1"], "avx512_bf16": ["on"]},
        "nvidia": dict(nvidia_properties(Version("12.9"), compute_capability=(11, 0))),
    }
    assert is_compatible(GPU_BUILD, machine)
    assert not is_compatible(GPU_BUILD, {**machine, "x86_64": {"level": ["v3"]}})
    assert not is_compatible(GPU_BUILD, {**machine, "nvidia": dict(nvidia_properties(None))})
    assert is_compatible({}, {})


def test_marker_properties_are_the_supported_ones_only() -> None:
    parsed = metadata(
        {
            "$schema": SCHEMA,
            "default-priorities": {"namespace": ["x86_64", "nvidia"]},
            "variants": {
                "gpu": {ns: {f: list(v) for f, v in fs.items()} for ns, fs in GPU_BUILD.items()}
            },
        }
    )
    machine = {
        "x86_64": {"level": ["v3"], "avx512_bf16": ["on"]},
        "nvidia": {"cuda_version_lower_bound": ["12.8"], "sm_arch": ["120_real"]},
    }
    assert selected_properties(parsed, "gpu", machine) == {
        "x86_64 :: level :: v3",
        "x86_64 :: avx512_bf16 :: on",
        "nvidia :: cuda_version_lower_bound :: 12.8",
        "nvidia :: sm_arch :: 120_real",
    }
    assert selected_properties(parsed, "null", machine) == frozenset()


def test_order_prefers_namespaces_then_best_values_then_more_properties() -> None:
    parsed = metadata(BLAS)
    machine = {
        "x86_64": {"level": ["v4", "v3", "v2", "v1"]},
        "blas_lapack": {"library": ["mkl", "openblas"]},
    }
    labels = ["null", "openblas", "x86_64_v3", "x86_64_v3_openblas", "x86_64_v4_mkl", "gone"]
    assert order_variants(parsed, machine, labels) == [
        "x86_64_v4_mkl",  # v4 is the best level
        "x86_64_v3_openblas",  # same level as the next, but one property more
        "x86_64_v3",
        "openblas",  # blas_lapack is the last namespace
        "null",  # always last; "gone" is not in the metadata
    ]
    v3_machine = {**machine, "x86_64": {"level": ["v3", "v2", "v1"]}}
    assert order_variants(parsed, v3_machine, labels) == [
        "x86_64_v3_openblas",
        "x86_64_v3",
        "openblas",
        "null",
    ]
    assert order_variants(parsed, {}, labels) == ["null"]


def test_equal_properties_order_by_label() -> None:
    document = {
        **BLAS,
        "variants": {"b": {"x86_64": {"level": ["v3"]}}, "a": {"x86_64": {"level": ["v3"]}}},
    }
    assert order_variants(metadata(document), {"x86_64": {"level": ["v3"]}}, ["b", "a"]) == [
        "a",
        "b",
    ]


def test_older_drafts_priorities_reorder_supported_features_and_values() -> None:
    """The ``default-priorities.feature``/``property`` keys of drafts before format 0.1.1,
    on the machine of uv's prototype test: CUDA first though the provider lists it last."""
    document = {
        "$schema": "https://variants-schema.wheelnext.dev/v0.0.3.json",
        "default-priorities": {
            "namespace": ["gpu", "cpu", "blas", "not_used_namespace"],
            "feature": {"gpu": ["cuda", "not_used_feature"], "cpu": ["level"]},
            "property": {"cpu": {"level": ["x86_64_v4", "x86_64_v3", "x86_64_v2", "x86_64_v1"]}},
        },
        "providers": {
            ns: {"requires": [f"{ns}-provider"]}
            for ns in ("gpu", "cpu", "blas", "not_used_namespace")
        },
        "variants": {
            "cu128_v2": {"gpu": {"cuda": ["cu128"]}, "cpu": {"level": ["x86_64_v2"]}},
            "cu128_v1": {"gpu": {"cuda": ["cu128"]}, "cpu": {"level": ["x86_64_v1"]}},
            "cu126_v2": {"gpu": {"cuda": ["cu126"]}, "cpu": {"level": ["x86_64_v2"]}},
            "cu126_v1": {"gpu": {"cuda": ["cu126"]}, "cpu": {"level": ["x86_64_v1"]}},
            "rocm": {"gpu": {"rocm": ["rocm68"]}},
            "xpu": {"gpu": {"xpu": ["xpu1"]}},
            "v1": {"cpu": {"level": ["x86_64_v1"]}},
            "null": {},
            "rocm69": {"gpu": {"rocm": ["rocm69"]}},
        },
    }
    parsed = metadata(document)
    user = {
        "gpu": {"rocm": ["rocm68"], "xpu": ["xpu1"], "cuda": ["cu128", "cu126"]},
        "cpu": {"level": ["x86_64_v1", "x86_64_v2"]},  # the priorities put v2 first
    }
    resolution = resolve_supported(parsed, user)
    assert list(resolution.supported["gpu"]) == ["cuda", "rocm", "xpu"]
    assert resolution.supported["cpu"]["level"] == ("x86_64_v2", "x86_64_v1")
    assert order_variants(parsed, resolution.supported, list(document["variants"])[::-1]) == [
        "cu128_v2",
        "cu128_v1",
        "cu126_v2",
        "cu126_v1",
        "rocm",
        "xpu",
        "v1",
        "null",
    ]


def test_wheels_group_by_label_with_non_variant_wheels_last() -> None:
    parsed = metadata(BLAS)
    files = [
        "foo-1.0-cp312-cp312-linux_x86_64.whl",
        "foo-1.0-cp312-cp312-linux_x86_64-openblas.whl",
        "foo-1.0-cp312-abi3-linux_x86_64-x86_64_v3.whl",
        "foo-1.0-cp312-cp312-linux_x86_64-x86_64_v3.whl",
        "foo-1.0-cp312-cp312-linux_x86_64-x86_64_v4_mkl.whl",
        "foo-1.0-cp312-cp312-linux_x86_64-unlisted.whl",
    ]
    machine = {"x86_64": {"level": ["v3"]}, "blas_lapack": {"library": ["openblas"]}}
    assert group_wheels(files, parsed, machine) == [
        [
            "foo-1.0-cp312-abi3-linux_x86_64-x86_64_v3.whl",
            "foo-1.0-cp312-cp312-linux_x86_64-x86_64_v3.whl",
        ],
        ["foo-1.0-cp312-cp312-linux_x86_64-openblas.whl"],
        ["foo-1.0-cp312-cp312-linux_x86_64.whl"],
    ]
    # no -variants.json: every variant wheel is skipped
    assert group_wheels(files, None, machine) == [["foo-1.0-cp312-cp312-linux_x86_64.whl"]]


# -- static providers -------------------------------------------------------------------------


def test_nvidia_lists_follow_the_reference_provider() -> None:
    found = nvidia_properties(Version("12.4"))
    lower = found["cuda_version_lower_bound"]
    assert lower[:7] == ("12.4", "12.3", "12.2", "12.1", "12.0", "12", "11.20")
    assert lower[-2:] == ("11.0", "11") and len(lower) == 6 + 22
    upper = found["cuda_version_upper_bound"]
    assert upper[:3] == ("15.20", "15.19", "15.18") and upper[-1] == "12.5"
    assert "13" in upper and "12" not in upper and "12.4" not in upper
    assert "sm_arch" not in found  # the GPU's architecture is not detected
    with_gpu = nvidia_properties(Version("12.4"), compute_capability=(8, 6))
    reals = [f"8{m}_real" for m in range(6, -1, -1)]
    assert with_gpu["sm_arch"] == (*reals, "80_virtual")
    assert "sm_arch" not in nvidia_properties(Version("12.4"), compute_capability=(3, 5))
    assert nvidia_properties(Version("11"))["cuda_version_lower_bound"] == ("11.0", "11")
    assert nvidia_properties(None) == {} and builtin_properties(None) == {}
    assert "cuda_version_lower_bound" not in nvidia_properties(Version("10.2"))


def test_cuda_driver_picks_the_newest_cuda_build_it_can_run() -> None:
    parsed = metadata(
        variant_document(
            ["nvidia"],
            {
                "cu118": ["nvidia :: cuda_version_lower_bound :: 11.8"],
                "cu124": ["nvidia :: cuda_version_lower_bound :: 12.4"],
                "cu126": ["nvidia :: cuda_version_lower_bound :: 12.6"],
                "null": [],
            },
            providers={"nvidia": {"requires": ["nvidia-variant-provider>=0.0.2,<1"]}},
        )
    )
    labels = list(parsed.variants)

    def chosen(driver: str | None) -> list[str]:
        builtin = builtin_properties(Version(driver) if driver else None)
        return order_variants(parsed, resolve_supported(parsed, builtin=builtin).supported, labels)

    assert chosen("12.4") == ["cu124", "cu118", "null"]
    assert chosen("12.8") == ["cu126", "cu124", "cu118", "null"]
    assert chosen("11.8") == ["cu118", "null"]
    assert chosen(None) == ["null"]


def test_static_lists_are_used_and_plugins_never_run() -> None:
    document = variant_document(
        ["nvidia", "x86_64", "blas_lapack", "amd", "fpga"],
        {
            "gpu": ["nvidia :: cuda_version_lower_bound :: 12.0"],
            "v3": ["x86_64 :: level :: v3"],
            "mkl": ["blas_lapack :: library :: mkl"],
            "openblas": ["blas_lapack :: library :: openblas"],
            "rocm": ["amd :: rocm_version :: 6.2"],
            "fpga": ["fpga :: board :: x1"],
        },
        providers={
            "nvidia": {
                "requires": ["nvidia-variant-provider>=0.0.2"],
                "enable-if": "platform_system == 'Linux'",
            },
            "x86_64": {"requires": ["provider-variant-x86-64"]},
            "blas_lapack": {"static-properties": {"library": ["openblas", "mkl"]}},
            "amd": {"requires": ["amd-variant-provider"], "optional": True},
            "fpga": {"requires": ["some-fork-of-nvidia-variant-provider"]},
        },
    )
    parsed = metadata(document)
    builtin: dict[str, Mapping[str, Sequence[str]]] = {
        **builtin_properties(Version("12.4")),
        "fpga": {"board": ["x1"]},
    }
    resolution = resolve_supported(parsed, builtin=builtin)
    assert dict(resolution.sources) == {
        "nvidia": "builtin",
        "x86_64": "plugin",  # a plugin package: not run, nothing supported
        "blas_lapack": "static",
        "amd": "optional",
        "fpga": "plugin",  # its provider is no plugin shipyard reimplements
    }
    assert resolution.unavailable == ("x86_64", "amd", "fpga")
    assert order_variants(parsed, resolution.supported, parsed.variants) == [
        "gpu",
        "openblas",
        "mkl",
    ]

    user = parse_properties(["x86_64::level::v3", "amd :: rocm_version :: 6.2"], where="--variant")
    resolution = resolve_supported(
        parsed,
        {**user, "blas_lapack": {"library": ["mkl"]}},  # ignored: the metadata's list wins
        builtin=builtin,
        enable={"amd"},
        disable={"nvidia"},
    )
    assert resolution.sources["x86_64"] == "user"
    assert resolution.sources["amd"] == "user"
    assert resolution.sources["nvidia"] == "disabled"
    assert order_variants(parsed, resolution.supported, parsed.variants) == [
        "v3",
        "openblas",
        "mkl",
        "rocm",
    ]

    on_macos = resolve_supported(parsed, builtin=builtin, environment={"platform_system": "Darwin"})
    assert on_macos.sources["nvidia"] == "enable-if"


def test_ahead_of_time_providers_of_pep_817_give_static_properties() -> None:
    document = {
        "$schema": "https://variants-schema.wheelnext.dev/v0.0.2.json",
        "default-priorities": {"namespace": ["blas_lapack"]},
        "providers": {"blas_lapack": {"install-time": False}},
        "static-properties": {"blas_lapack": {"library": ["mkl", "openblas"]}},
        "variants": {
            "mkl": {"blas_lapack": {"library": ["mkl"]}},
            "openblas": {"blas_lapack": {"library": ["openblas"]}},
        },
    }
    parsed = metadata(document)
    assert parsed.providers["blas_lapack"].install_time is False
    resolution = resolve_supported(parsed)
    assert resolution.sources == {"blas_lapack": "static"}
    assert order_variants(parsed, resolution.supported, ["openblas", "mkl"]) == ["mkl", "openblas"]


@pytest.mark.parametrize(
    "text", ["x86_64 :: level", "X86 :: level :: v3", "a :: b :: V3", "a::b::c::d"]
)
def test_user_properties_must_be_namespace_feature_value(text: str) -> None:
    with pytest.raises(VariantMetadataError, match="SHIPYARD_VARIANT_PROPERTIES"):
        parse_properties([text], where="SHIPYARD_VARIANT_PROPERTIES")


# -- a variant index built by the tests --------------------------------------------------------


def fetch(url: str, accept: str = "application/vnd.pypi.simple.v1+json") -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


GPU_VARIANTS = [
    Variant("cu126", ["nvidia :: cuda_version_lower_bound :: 12.6"]),
    Variant("cu124", ["nvidia :: cuda_version_lower_bound :: 12.4"]),
    Variant("null"),
]


def test_variant_index_selects_the_wheel_for_the_faked_cuda_driver(make_index: MakeIndex) -> None:
    index = make_index([])
    publish_variants(
        index.root,
        "gpu-kernels",
        "1.0",
        GPU_VARIANTS,
        namespaces=["nvidia"],
        providers={"nvidia": {"requires": ["nvidia-variant-provider>=0.0.2,<1"]}},
    )
    page_url = index.project_url("gpu-kernels")
    page = json.loads(fetch(page_url))
    assert page["versions"] == ["1.0"]
    files = {f["filename"]: f for f in page["files"]}
    assert set(files) == {
        "gpu_kernels-1.0-py3-none-any-cu126.whl",
        "gpu_kernels-1.0-py3-none-any-cu124.whl",
        "gpu_kernels-1.0-py3-none-any-null.whl",
        "gpu_kernels-1.0-py3-none-any.whl",
        "gpu_kernels-1.0-variants.json",
    }
    html = fetch(page_url, accept="text/html").decode()
    assert 'href="../../files/gpu_kernels-1.0-variants.json#sha256=' in html

    entry = files[variants_json_filename("gpu-kernels", "1.0")]
    body = fetch(urllib.parse.urljoin(page_url, entry["url"]))
    assert hashlib.sha256(body).hexdigest() == entry["hashes"]["sha256"]
    parsed = parse_variant_metadata(body, where=entry["url"])
    assert set(parsed.variants) == {"cu126", "cu124", "null"}

    wheels = [name for name in files if name.endswith(".whl")]
    for name in wheels:
        label = parse_variant_wheel_filename(name).label
        if label is None:
            continue
        with zipfile.ZipFile(index.root / name) as archive:
            own = parse_variant_metadata(
                archive.read("gpu_kernels-1.0.dist-info/variant.json"), where=name
            )
        assert own.variants == {label: parsed.variants[label]}  # consistent with the index

    def best(driver: str | None) -> list[str]:
        builtin = builtin_properties(Version(driver) if driver else None)
        supported = resolve_supported(parsed, builtin=builtin).supported
        return group_wheels(wheels, parsed, supported)[0]

    assert best("12.4") == ["gpu_kernels-1.0-py3-none-any-cu124.whl"]
    assert best("12.8") == ["gpu_kernels-1.0-py3-none-any-cu126.whl"]
    assert best("12.2") == ["gpu_kernels-1.0-py3-none-any-null.whl"]
    assert best(None) == ["gpu_kernels-1.0-py3-none-any-null.whl"]


def test_without_its_variants_json_only_the_plain_wheel_is_left(make_index: MakeIndex) -> None:
    index = make_index([])
    publish_variants(
        index.root, "gpu-kernels", "1.0", GPU_VARIANTS, namespaces=["nvidia"], index_json=False
    )
    files = [f["filename"] for f in json.loads(fetch(index.project_url("gpu-kernels")))["files"]]
    assert not any(name.endswith(".json") for name in files)
    assert group_wheels(files, None, builtin_properties(Version("12.8"))) == [
        ["gpu_kernels-1.0-py3-none-any.whl"]
    ]


def test_variant_wheels_are_valid_wheels(tmp_path: Path) -> None:
    wheel = build_variant_wheel(
        tmp_path / "dist",
        "gpu-kernels",
        "1.0",
        GPU_VARIANTS[0],
        "py3-none-any",
        namespaces=["nvidia"],
    )
    assert wheel.name == "gpu_kernels-1.0-py3-none-any-cu126.whl"
    assert [p.name for p in wheel.parent.iterdir()] == [wheel.name]  # nothing left behind
    scheme = {
        key: tmp_path / "env" / key for key in ("purelib", "platlib", "headers", "scripts", "data")
    }
    destination = SchemeDictionaryDestination(
        {k: str(v) for k, v in scheme.items()}, interpreter=sys.executable, script_kind="posix"
    )
    with WheelFile.open(wheel) as source:
        source.validate_record(validate_contents=True)  # variant.json is in RECORD
        install(source, destination, {"INSTALLER": b"shipyard-tests"})
    assert "VARIANT = 'cu126'" in (scheme["purelib"] / "gpu_kernels" / "__init__.py").read_text()
    installed = scheme["purelib"] / "gpu_kernels-1.0.dist-info" / "variant.json"
    assert json.loads(installed.read_text())["variants"] == {
        "cu126": {"nvidia": {"cuda_version_lower_bound": ["12.6"]}}
    }
