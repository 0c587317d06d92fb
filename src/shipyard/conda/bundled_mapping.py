"""The conda→PyPI names shipyard knows without the network.

A small list kept with shipyard for ``import --prefer-pypi`` when the published
mapping (:data:`shipyard.conda.mapping.DEFAULT_MAPPING_URL`) cannot be fetched and
is not in the cache: the common conda-forge (and ``defaults``) packages whose PyPI
project has another name, and the common ones that are no Python distribution at
all (``None``: C/C++ libraries, compilers, CUDA, runtimes, tools). Names that are
the same on both sides (``numpy``, ``pandas``) are not listed: the index answers
for them. The published mapping, when at hand, and ``[tool.shipyard.conda]
pypi-mapping`` come first (see :func:`shipyard.conda.mapping.pypi_name`).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BUNDLED_MAPPING"]

_RENAMED: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-opencv": "opencv-python",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-lightgbm": "lightgbm",
    "matplotlib-base": "matplotlib",
    "seaborn-base": "seaborn",
    "geopandas-base": "geopandas",
    "dask-core": "dask",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "python-kaleido": "kaleido",
    "python-duckdb": "duckdb",
    "python-xxhash": "xxhash",
    "python-lmdb": "lmdb",
    "python-tzdata": "tzdata",
    "python-flatbuffers": "flatbuffers",
    "python-libarchive-c": "libarchive-c",
    "docker-py": "docker",
    "pyqt": "pyqt5",
    "numpy-base": "numpy",
    "tensorflow-base": "tensorflow",
    "jupyter_core": "jupyter-core",
    "jupyter_client": "jupyter-client",
    "prompt_toolkit": "prompt-toolkit",
    "typing_extensions": "typing-extensions",
    "importlib_metadata": "importlib-metadata",
    "importlib_resources": "importlib-resources",
    "huggingface_hub": "huggingface-hub",
}

_NOT_PYTHON = """
_libgcc_mutex _openmp_mutex blas blas-devel boost boost-cpp bzip2 c-ares c-compiler
ca-certificates cairo clang cmake compilers cudatoolkit cuda-toolkit cuda-cudart
cuda-nvcc cuda-runtime cuda-version cudnn curl cxx-compiler eigen expat ffmpeg
fontconfig fortran-compiler freetype gcc gcc_linux-64 geos gettext gfortran git glib
graphviz gxx gxx_linux-64 hdf4 hdf5 icu imagemagick intel-openmp jpeg krb5 lcms2
ld_impl_linux-64 libarrow libblas libcblas libcurl libffi libgcc libgcc-ng libgdal
libgfortran libgfortran-ng libgomp libiconv liblapack liblapacke libnetcdf libopenblas
libpng libpq libprotobuf libsqlite libssh2 libstdcxx libstdcxx-ng libtiff libuuid
libwebp libxcb libxgboost libxml2 libxslt libzlib llvm-openmp lz4-c m2w64-toolchain
make mkl mkl-devel mpich nccl ncurses ninja nodejs openblas openjdk openjpeg
openmpi openssl pandoc pcre2 poppler postgresql proj pytorch-cuda qt qt-main r-base
r-essentials readline snappy sqlite tbb tbb-devel tesseract tk ucrt vc vc14_runtime
vs2015_runtime xz yaml zeromq zlib zstd
"""

#: conda package name → canonical PyPI project, or ``None``: not a Python distribution
BUNDLED_MAPPING: Mapping[str, str | None] = {
    **dict.fromkeys(_NOT_PYTHON.split()),
    **_RENAMED,
}
