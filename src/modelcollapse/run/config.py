"""Experiment configuration: YAML -> pydantic, validated at the boundary.

Every ``kind`` is registered here once, and each config object builds its
runtime piece (``build``), so the rest of the code never compares kind strings.
"""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any, ClassVar, Literal, get_args

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveInt,
    Tag,
    field_validator,
    model_validator,
)

from modelcollapse import models, sources, workflows
from modelcollapse.models.base import Family, Model

Estimator = Literal["mle", "unbiased"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def row_bytes(self) -> int:
        """Bytes one data row takes when a workflow keeps rows (sources override this)."""
        return 8


# ---- sources ---------------------------------------------------------------


class GaussianSourceConfig(_Strict):
    """N(mean, covariance); give ``variance`` (a number or per-dimension list) or a full ``covariance``."""

    kind: Literal["gaussian"]
    dim: PositiveInt = 1
    mean: float | list[float] = 0.0
    variance: Positive | list[Positive] = 1.0
    covariance: list[list[float]] | None = None
    test_samples: PositiveInt = 1000

    @model_validator(mode="after")
    def _shapes(self) -> GaussianSourceConfig:
        for name in ("mean", "variance"):
            v = getattr(self, name)
            if isinstance(v, list) and len(v) != self.dim:
                raise ValueError(f"{name} has {len(v)} entries but dim is {self.dim}")
        if self.covariance is not None:
            c = np.asarray(self.covariance, dtype=float)
            if c.shape != (self.dim, self.dim) or not np.allclose(c, c.T):
                raise ValueError(f"covariance must be a symmetric {self.dim}x{self.dim} matrix")
            if np.linalg.eigvalsh(c)[0] <= 0:
                raise ValueError("covariance must be positive definite")
        return self

    @property
    def row_bytes(self) -> int:
        return 8 * self.dim

    def build(self) -> sources.GaussianSource:
        mean = np.broadcast_to(np.asarray(self.mean, float), (self.dim,)).copy()
        if self.covariance is not None:
            cov = np.asarray(self.covariance, float)
        else:
            cov = np.diag(np.broadcast_to(np.asarray(self.variance, float), (self.dim,)))
        return sources.GaussianSource(mean, cov, self.test_samples)


class RegressionSourceConfig(_Strict):
    """y = x^T w* + noise; x ~ N(0, diag(feature_variance)); w* ~ N(0, I/dim) per replicate."""

    kind: Literal["linear-regression"]
    dim: PositiveInt
    noise_std: Annotated[float, Field(ge=0.0)] = 1.0
    design: Literal["fixed", "fresh"] = "fixed"
    feature_variance: Positive | list[Positive] = 1.0
    test_samples: PositiveInt = 1000

    @property
    def row_bytes(self) -> int:  # a fixed design stores (row index, label) per row
        return 16 if self.design == "fixed" else 8 * (self.dim + 1)

    def build(self) -> sources.RegressionSource:
        var = np.broadcast_to(np.asarray(self.feature_variance, float), (self.dim,)).copy()
        return sources.RegressionSource(self.dim, self.noise_std, self.design, var, self.test_samples)


class CategoricalSourceConfig(_Strict):
    """K symbols: ``uniform``, ``zipf`` (p_i ~ i^-exponent), ``wordfreq`` (top-K English words) or ``probabilities``."""

    kind: Literal["categorical"]
    categories: PositiveInt | None = None
    distribution: Literal["uniform", "zipf", "wordfreq"] = "zipf"
    exponent: Positive = 1.0
    probabilities: list[Annotated[float, Field(ge=0.0)]] | None = None
    test_samples: PositiveInt = 1000

    @model_validator(mode="after")
    def _given(self) -> CategoricalSourceConfig:
        if self.probabilities is None and self.categories is None:
            raise ValueError("give categories (with a distribution) or probabilities")
        if self.probabilities is not None and sum(self.probabilities) <= 0:
            raise ValueError("probabilities must have a positive sum")
        return self

    @property
    def size(self) -> int:
        return len(self.probabilities) if self.probabilities is not None else int(self.categories or 0)

    def build(self) -> sources.CategoricalSource:
        if self.probabilities is not None:
            p = np.asarray(self.probabilities, float)
            p = p / p.sum()
        elif self.distribution == "uniform":
            p = np.full(self.size, 1.0 / self.size)
        elif self.distribution == "wordfreq":
            p = sources.word_frequencies(self.size)[1]
        else:
            p = sources.zipf_probabilities(self.size, self.exponent)
        return sources.CategoricalSource(p, self.test_samples)


class BernoulliSourceConfig(_Strict):
    """Coin flips with P(1) = p."""

    kind: Literal["bernoulli"]
    p: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    test_samples: PositiveInt = 1000

    def build(self) -> sources.BernoulliSource:
        return sources.BernoulliSource(self.p, self.test_samples)


class PoissonSourceConfig(_Strict):
    """Counts drawn from Poisson(rate)."""

    kind: Literal["poisson"]
    rate: Positive = 1.0
    test_samples: PositiveInt = 1000

    def build(self) -> sources.PoissonSource:
        return sources.PoissonSource(self.rate, self.test_samples)


class ShapesSourceConfig(_Strict):
    """2-D shapes from scikit-learn: moons, circles, blobs (fixed centres), swiss roll projected to 2-D."""

    kind: Literal["shapes"]
    shape: Literal["moons", "circles", "blobs", "swiss-roll"] = "moons"
    noise: Annotated[float, Field(ge=0.0)] = 0.1
    centers: PositiveInt = 3
    center_seed: Annotated[int, Field(ge=0)] = 0
    cluster_std: Positive = 0.5
    test_samples: PositiveInt = 1000

    @property
    def row_bytes(self) -> int:
        return 16

    def build(self) -> Any:
        from modelcollapse.sources.sklearn_data import ShapeSource, blob_centers

        centers = blob_centers(self.centers, self.center_seed) if self.shape == "blobs" else None
        return ShapeSource(self.shape, self.noise, centers, self.cluster_std, self.test_samples)


class TabularSourceConfig(_Strict):
    """A real table bundled with scikit-learn, standardised: iris, wine, breast-cancer, digits."""

    kind: Literal["tabular"]
    name: Literal["iris", "wine", "breast-cancer", "digits"] = "wine"
    test_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3

    @property
    def row_bytes(self) -> int:
        return 8 * {"iris": 4, "wine": 13, "breast-cancer": 30, "digits": 64}[self.name]

    def build(self) -> Any:
        from modelcollapse.sources.sklearn_data import TableSource

        return TableSource(self.name, self.test_fraction)


class TextSourceConfig(_Strict):
    """Real text as documents of words: Debian's fortunes by default, or ``paths`` to your own text files."""

    kind: Literal["text"]
    paths: list[str] = []
    vocab_size: Annotated[int, Field(ge=10)] = 5000
    max_tokens: PositiveInt = 48
    test_every: Annotated[int, Field(ge=2)] = 5
    test_documents: PositiveInt = 500
    tokenizer: Literal["words", "bpe", "chars"] = "words"

    @property
    def row_bytes(self) -> int:
        return 4 * self.max_tokens

    def build(self) -> Any:
        from modelcollapse.sources.text import TextSource

        return TextSource(
            tuple(self.paths), self.vocab_size, self.max_tokens, self.test_every, self.test_documents, self.tokenizer
        )


class SmilesSourceConfig(_Strict):
    """Drug-like molecules as SMILES characters (MOSES, ``pip install --no-deps molsets==0.3.1``), or ``path``."""

    kind: Literal["smiles"]
    path: str | None = None
    pool: PositiveInt = 20000
    pool_seed: Annotated[int, Field(ge=0)] = 0
    max_tokens: Annotated[int, Field(ge=57)] = 60
    test_documents: PositiveInt = 1000
    vocab_size: ClassVar[int] = 64

    @property
    def row_bytes(self) -> int:
        return 4 * self.max_tokens

    def build(self) -> Any:
        from modelcollapse.sources.molecules import SmilesSource

        return SmilesSource(
            max_tokens=self.max_tokens, test_documents=self.test_documents, path=self.path, pool=self.pool,
            pool_seed=self.pool_seed,
        )


class ImageSourceConfig(_Strict):
    """Real images in [0, 1]: scikit-learn's digits (8x8), or Fashion-MNIST (28x28) from Debian."""

    kind: Literal["images"]
    name: Literal["digits", "fashion-mnist"] = "digits"
    test_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25
    test_samples: PositiveInt = 1000

    @property
    def dim(self) -> int:
        return {"digits": 64, "fashion-mnist": 784}[self.name]

    @property
    def row_bytes(self) -> int:
        return 8 * self.dim

    def build(self) -> Any:
        from modelcollapse.sources.images import ImageSource

        return ImageSource(self.name, self.test_fraction, self.test_samples)


SourceConfig = Annotated[
    GaussianSourceConfig
    | RegressionSourceConfig
    | CategoricalSourceConfig
    | BernoulliSourceConfig
    | PoissonSourceConfig
    | ShapesSourceConfig
    | TabularSourceConfig
    | TextSourceConfig
    | SmilesSourceConfig
    | ImageSourceConfig,
    Field(discriminator="kind"),
]


def _by_kind(union: Any) -> dict[str, type[BaseModel]]:
    """The config classes of a discriminated union, keyed by their ``kind`` literal."""
    classes = get_args(get_args(union)[0])
    return {get_args(c.model_fields["kind"].annotation)[0]: c for c in classes}


SOURCES = _by_kind(SourceConfig)
SOURCE_KINDS = list(SOURCES)

# ---- models ----------------------------------------------------------------


class GaussianModelConfig(_Strict):
    """Sample mean and covariance (full / diagonal / isotropic, or the known true covariance)."""

    kind: Literal["gaussian"]
    covariance: Literal["full", "diagonal", "isotropic", "known"] = "full"
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("gaussian",)

    def build(self, source: Any) -> Family:
        return models.GaussianFamily(self.covariance, self.estimator)


class OLSModelConfig(_Strict):
    """Least squares (minimum-norm where the design is rank deficient)."""

    kind: Literal["ols"]
    noise: Literal["known", "estimated"] = "known"
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("linear-regression",)

    def build(self, source: Any) -> Family:
        return models.LinearRegressionFamily(0.0, self.noise, self.estimator)


class RidgeModelConfig(_Strict):
    """Ridge regression with penalty ``alpha`` on the summed squared error."""

    kind: Literal["ridge"]
    alpha: Positive = 1.0
    noise: Literal["known", "estimated"] = "known"
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("linear-regression",)

    def build(self, source: Any) -> Family:
        return models.LinearRegressionFamily(self.alpha, self.noise, self.estimator)


class CategoricalModelConfig(_Strict):
    """Symbol frequencies, with optional add-``smoothing`` counts."""

    kind: Literal["categorical"]
    smoothing: Annotated[float, Field(ge=0.0)] = 0.0
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("categorical",)

    def build(self, source: Any) -> Family:
        return models.CategoricalFamily(source.size, self.smoothing, self.estimator)


class BernoulliModelConfig(_Strict):
    """The frequency of ones."""

    kind: Literal["bernoulli"]
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("bernoulli",)

    def build(self, source: Any) -> Family:
        return models.BernoulliFamily(self.estimator)


class PoissonModelConfig(_Strict):
    """The sample mean as the rate."""

    kind: Literal["poisson"]
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("poisson",)

    def build(self, source: Any) -> Family:
        return models.PoissonFamily(self.estimator)


class KDEModelConfig(_Strict):
    """Kernel density estimate (scikit-learn): gaussian, tophat or epanechnikov kernel."""

    kind: Literal["kde"]
    kernel: Literal["gaussian", "tophat", "epanechnikov"] = "gaussian"
    bandwidth: Positive | Literal["scott", "silverman"] = "scott"
    sources: ClassVar[tuple[str, ...]] = ("gaussian", "shapes", "tabular")

    def build(self, source: Any) -> Family:
        from modelcollapse.models.kde import KDEFamily

        return KDEFamily(self.kernel, self.bandwidth)


class GMMModelConfig(_Strict):
    """Gaussian mixture fitted by EM (scikit-learn), K components, full or diagonal covariances."""

    kind: Literal["gmm"]
    components: PositiveInt = 3
    covariance: Literal["full", "diag"] = "full"
    sources: ClassVar[tuple[str, ...]] = ("gaussian", "shapes", "tabular")

    def build(self, source: Any) -> Family:
        from modelcollapse.models.gmm import GMMFamily

        return GMMFamily(self.components, self.covariance)


class NGramModelConfig(_Strict):
    """n-gram language model (order 1-4) with add-k or interpolated Kneser-Ney smoothing."""

    kind: Literal["ngram"]
    order: Annotated[int, Field(ge=1, le=4)] = 3
    smoothing: Literal["kneser-ney", "add-k"] = "kneser-ney"
    k: Positive = 0.1
    discount: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.75
    sources: ClassVar[tuple[str, ...]] = ("text",)

    def build(self, source: Any) -> Family:
        from modelcollapse.models.ngram import NGramFamily

        return NGramFamily(self.order, self.smoothing, self.k, self.discount, source.vocab_size, source.max_tokens)


DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?|mps")


class _Trained(_Strict):
    """What every neural family shares: the optimiser's budget and the device."""

    steps: PositiveInt | None = None
    batch_size: PositiveInt = 32
    lr: Positive = 3e-3
    device: str = "auto"

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not DEVICE.fullmatch(v):
            raise ValueError(f"{v!r} is not a device; allowed: auto, cpu, cuda, cuda:N, mps")
        if v.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ValueError(f"{v!r} asked for, but no CUDA GPU is available here; use auto or cpu")
        return v


class _LanguageModel(_Trained):
    epochs: Positive = 1.0
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    temperature: Positive = 1.0
    top_k: Annotated[int, Field(ge=0)] = 0
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    prompt_tokens: Annotated[int, Field(ge=0)] = 0
    sources: ClassVar[tuple[str, ...]] = ("text", "smiles")

    def _common(self, source: Any) -> dict[str, Any]:
        extra = None
        if source.kind == "smiles":
            from modelcollapse.metrics.molecules import MOLECULE_METRICS

            extra = MOLECULE_METRICS
        try:  # the tokeniser is learned from the real training text: the network gets its exact vocabulary
            vocab = len(source.build().corpus().vocab)
        except FileNotFoundError as err:
            raise ValueError(str(err)) from None
        fields = self.model_dump(exclude={"kind", "model", "config", "base_seed", "layers", "heads", "width"})
        return {"vocab": vocab, "max_tokens": source.max_tokens, "extra_metrics": extra, **fields}


class GPTModelConfig(_LanguageModel):
    """A small GPT trained from scratch (``init: scratch``) or from the last generation (``continue``)."""

    kind: Literal["gpt"]
    layers: PositiveInt = 2
    heads: PositiveInt = 4
    width: PositiveInt = 128
    init: Literal["scratch", "continue"] = "scratch"

    @model_validator(mode="after")
    def _heads(self) -> GPTModelConfig:
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")
        return self

    def build(self, source: Any) -> Family:
        from modelcollapse.models.neural.lm import LMFamily

        return LMFamily(layers=self.layers, heads=self.heads, width=self.width, **self._common(source))


class HFModelConfig(_LanguageModel):
    """A Hugging Face causal LM (``model``: path or hub name; else a GPT-2 from ``config``), fine-tuned each
    generation from the same base."""

    kind: Literal["hf-lm"]
    model: str | None = None
    config: dict[str, Any] = {}
    base_seed: Annotated[int, Field(ge=0)] = 0
    lr: Positive = 1e-3

    def build(self, source: Any) -> Family:
        from modelcollapse.models.neural.hf import HFFamily

        return HFFamily(model=self.model, config=dict(self.config), base_seed=self.base_seed, **self._common(source))


class VAEModelConfig(_Trained):
    """A VAE (MLP encoder/decoder, Bernoulli likelihood) on images in [0, 1]."""

    kind: Literal["vae"]
    hidden: PositiveInt = 256
    latent: PositiveInt = 8
    epochs: Positive = 20.0
    batch_size: PositiveInt = 64
    lr: Positive = 1e-3
    sources: ClassVar[tuple[str, ...]] = ("images",)

    def build(self, source: Any) -> Family:
        from modelcollapse.models.neural.vae import VAEFamily

        return VAEFamily(dim=source.dim, **self.model_dump(exclude={"kind"}))


class DDPMModelConfig(_Trained):
    """A DDPM with an MLP denoiser on 2-D shapes or flattened images."""

    kind: Literal["ddpm"]
    hidden: PositiveInt = 256
    timesteps: Annotated[int, Field(ge=2)] = 100
    steps: PositiveInt = 3000
    batch_size: PositiveInt = 256
    lr: Positive = 1e-3
    sources: ClassVar[tuple[str, ...]] = ("shapes", "images")

    def build(self, source: Any) -> Family:
        from modelcollapse.models.neural.ddpm import DDPMFamily

        images = source.kind == "images"
        return DDPMFamily(dim=source.dim if images else 2, images=images, **self.model_dump(exclude={"kind"}))


USER_MODELS: dict[str, type[Model]] = {}


def _fit_params(factory: type[Model]) -> set[str]:
    return set(inspect.signature(factory.fit).parameters)


def register_model(kind: str, factory: type[Model]) -> None:
    """Make ``model: {kind: KIND, params: {...}}`` build ``factory(**params)``."""
    USER_MODELS[kind] = factory


class UserModelConfig(_Strict):
    """A model registered with :func:`register_model`, run one replicate at a time."""

    kind: str
    params: dict[str, Any] = {}
    sources: ClassVar[tuple[str, ...]] = ("gaussian", "categorical", "bernoulli", "poisson", "shapes", "tabular")

    def build(self, source: Any) -> Family:
        return models.PerReplicate(USER_MODELS[self.kind](**self.params))


BUILTIN_MODELS: dict[str, type[_Strict]] = {
    "gaussian": GaussianModelConfig,
    "ols": OLSModelConfig,
    "ridge": RidgeModelConfig,
    "categorical": CategoricalModelConfig,
    "bernoulli": BernoulliModelConfig,
    "poisson": PoissonModelConfig,
    "kde": KDEModelConfig,
    "gmm": GMMModelConfig,
    "ngram": NGramModelConfig,
    "gpt": GPTModelConfig,
    "hf-lm": HFModelConfig,
    "vae": VAEModelConfig,
    "ddpm": DDPMModelConfig,
}


def _model_tag(v: Any) -> str | None:
    kind = v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)
    if not isinstance(kind, str):
        return None
    if kind in BUILTIN_MODELS:
        return kind
    return "user" if kind in USER_MODELS else None


ModelConfig = Annotated[
    Annotated[GaussianModelConfig, Tag("gaussian")]
    | Annotated[OLSModelConfig, Tag("ols")]
    | Annotated[RidgeModelConfig, Tag("ridge")]
    | Annotated[CategoricalModelConfig, Tag("categorical")]
    | Annotated[BernoulliModelConfig, Tag("bernoulli")]
    | Annotated[PoissonModelConfig, Tag("poisson")]
    | Annotated[KDEModelConfig, Tag("kde")]
    | Annotated[GMMModelConfig, Tag("gmm")]
    | Annotated[NGramModelConfig, Tag("ngram")]
    | Annotated[GPTModelConfig, Tag("gpt")]
    | Annotated[HFModelConfig, Tag("hf-lm")]
    | Annotated[VAEModelConfig, Tag("vae")]
    | Annotated[DDPMModelConfig, Tag("ddpm")]
    | Annotated[UserModelConfig, Tag("user")],
    Discriminator(_model_tag),
]

# ---- workflows -------------------------------------------------------------


class _Workflow(_Strict):
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]

    def chain(self) -> dict[str, Any]:
        """What keys this workflow's random stream: its fields (cells differing elsewhere share the stream)."""
        return self.model_dump(mode="json")

    shared_generations: ClassVar[int] = 0  # leading generations that cells with the same chain() share


class ReplaceConfig(_Workflow):
    """Model t trains on the synthetic data of model t-1 only."""

    kind: Literal["replace"]

    def build(self, n: int, generations: int) -> workflows.Workflow:
        return workflows.replace(n)


class AccumulateConfig(_Workflow):
    """Real data plus every synthetic batch so far."""

    kind: Literal["accumulate"]

    def build(self, n: int, generations: int) -> workflows.Workflow:
        return workflows.accumulate(n)


class AccumulateSubsampleConfig(_Workflow):
    """A uniform subsample (without replacement) of ``budget`` rows (default n) from everything so far."""

    kind: Literal["accumulate-subsample"]
    budget: PositiveInt | None = None

    def build(self, n: int, generations: int) -> workflows.Workflow:
        return workflows.accumulate_subsample(n, self.budget or n, capacity=n * generations)


class MixConfig(_Workflow):
    """All real data plus ``fraction * n`` synthetic rows from the latest model."""

    kind: Literal["mix"]
    fraction: Fraction = 1.0

    def build(self, n: int, generations: int) -> workflows.Workflow:
        return workflows.mix(n, self.fraction)


class RealFractionConfig(_Workflow):
    """A fraction of the real set (resampled each generation) plus synthetic rows to the same total n."""

    kind: Literal["real-fraction"]
    fraction: Fraction = 0.5

    def build(self, n: int, generations: int) -> workflows.Workflow:
        return workflows.real_fraction(n, self.fraction)


class FreshConfig(_Workflow):
    """Fresh real rows plus synthetic rows each generation; ``real_weight`` is the real part's share."""

    kind: Literal["fresh"]
    fraction: Fraction = 0.5
    real_samples: PositiveInt | None = None
    synthetic_samples: Annotated[int, Field(ge=0)] | None = None
    real_weight: Fraction | None = None

    def build(self, n: int, generations: int) -> workflows.Workflow:
        n_r = self.real_samples if self.real_samples is not None else max(1, round(self.fraction * n))
        n_s = self.synthetic_samples if self.synthetic_samples is not None else n - round(self.fraction * n)
        return workflows.fresh(n_r, n_s, self.real_weight)


class RealSyntheticConfig(_Workflow):
    """``real`` fresh real rows plus ``synthetic`` rows from generation ``generator`` of a replace chain.

    One cell of the real-synthetic grid (see :class:`GridConfig`); it measures generation ``generator + 1``.
    """

    kind: Literal["real-synthetic"]
    real: Annotated[int, Field(ge=0)]
    synthetic: Annotated[int, Field(ge=0)]
    generator: PositiveInt = 1

    @model_validator(mode="after")
    def _some_data(self) -> RealSyntheticConfig:
        if self.real + self.synthetic == 0:
            raise ValueError("real + synthetic must be at least 1")
        return self

    def chain(self) -> dict[str, Any]:
        """The cells of a grid share the generator's chain: its stream, and (durable families) its saved
        generations, so a neural generator is trained once per block, not once per cell."""
        return self.model_dump(mode="json", exclude={"real", "synthetic"})

    @property
    def shared_generations(self) -> int:  # type: ignore[override]
        return self.generator

    def build(self, n: int, generations: int) -> workflows.Workflow:
        return workflows.real_synthetic(n, self.real, self.synthetic, self.generator)


class WindowConfig(_Workflow):
    """Real data plus the last ``size`` synthetic batches."""

    kind: Literal["window"]
    size: PositiveInt = 1

    def build(self, n: int, generations: int) -> workflows.Workflow:
        return workflows.window(n, self.size)


class WeightsConfig(_Workflow):
    """Row t of ``matrix`` gives generation t+1's shares of data sets 0..t (normalised)."""

    kind: Literal["weights"]
    matrix: list[list[Annotated[float, Field(ge=0.0)]]]

    @field_validator("matrix")
    @classmethod
    def _rows(cls, m: list[list[float]]) -> list[list[float]]:
        for t, row in enumerate(m, start=1):
            if len(row) > t:
                raise ValueError(f"row {t - 1} (generation {t}) has {len(row)} entries; at most {t} allowed")
            if sum(row) <= 0:
                raise ValueError(f"row {t - 1} (generation {t}) must have a positive sum")
        return m

    def build(self, n: int, generations: int) -> workflows.Workflow:
        return workflows.weights(n, self.matrix)


WorkflowConfig = Annotated[
    ReplaceConfig
    | AccumulateConfig
    | AccumulateSubsampleConfig
    | MixConfig
    | RealFractionConfig
    | FreshConfig
    | RealSyntheticConfig
    | WindowConfig
    | WeightsConfig,
    Field(discriminator="kind"),
]
WORKFLOWS = _by_kind(WorkflowConfig)
WORKFLOW_KINDS = list(WORKFLOWS)



class GridConfig(_Strict):
    """The real-synthetic grid (Kazdan et al. 2024): one cell per (N_real, N_syn), every family.

    Cells are ``real x synthetic`` (the cardinality grid) plus, for each total in ``totals``, the splits
    ``N_real = round(p * total)`` for ``p`` in ``proportions`` (the proportion curves); (0, 0) is left out.
    The generator is model ``generator`` of a replace chain started from ``samples_per_generation`` real
    points (1: fitted to them); no cell's real rows are ones it saw.
    """

    real: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    synthetic: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    generator: PositiveInt = 1
    totals: list[PositiveInt] = []
    proportions: list[Fraction] = [0.0, 0.25, 0.5, 0.75, 1.0]

    def cells(self) -> list[tuple[int, int]]:
        pairs = {(r, s) for r in self.real for s in self.synthetic}
        pairs |= {(round(p * t), t - round(p * t)) for t in self.totals for p in self.proportions}
        return sorted(pairs - {(0, 0)})

    def workflow(self, real: int, synthetic: int) -> dict[str, Any]:
        return {"kind": "real-synthetic", "real": real, "synthetic": synthetic, "generator": self.generator}


# ---- the experiment --------------------------------------------------------


class Experiment(_Strict):
    """One experiment: a source, a model family, workflows run side by side on the same real data."""

    name: str
    source: SourceConfig
    model: ModelConfig
    samples_per_generation: PositiveInt
    workflow: list[WorkflowConfig]
    generations: PositiveInt
    replicates: PositiveInt
    seed: Annotated[int, Field(ge=0)] = 0
    metrics: list[str] | None = None
    sweep: dict[str, Any] | None = None  # expanded by run.loading.expand: lists, and zip groups
    grid: dict[str, Any] | None = None  # a real-synthetic grid, expanded by run.loading.expand

    @field_validator("workflow", mode="before")
    @classmethod
    def _workflow_list(cls, v: Any) -> Any:
        items = v if isinstance(v, list) else [v]
        return [{"kind": w} if isinstance(w, str) else w for w in items]

    @field_validator("workflow")
    @classmethod
    def _unique(cls, v: list[Any]) -> list[Any]:
        labels = [w.label for w in v]
        if len(set(labels)) != len(labels):
            raise ValueError(f"workflow names must be unique, got {labels}; give each a 'name'")
        return v

    @model_validator(mode="after")
    def _fits(self) -> Experiment:
        if self.source.kind not in self.model.sources:
            allowed = ", ".join(self.model.sources)
            raise ValueError(
                f"model.kind {self.model.kind!r} cannot fit source.kind {self.source.kind!r}; it fits: {allowed}"
            )
        unweighted = not getattr(self.family(), "supports_weights", True)
        if unweighted or (
            isinstance(self.model, UserModelConfig) and "sample_weight" not in _fit_params(USER_MODELS[self.model.kind])
        ):
            for i, wf in enumerate(self.workflow):
                if wf.build(self.samples_per_generation, self.generations).weighted:
                    raise ValueError(
                        f"workflow[{i}]: model {self.model.kind!r} has no fit(..., sample_weight=...); "
                        f"the {wf.kind} workflow needs it"
                    )
        for i, wf in enumerate(self.workflow):
            if isinstance(wf, RealSyntheticConfig) and self.generations != wf.generator + 1:
                raise ValueError(
                    f"workflow[{i}]: real-synthetic measures generation generator + 1 = {wf.generator + 1}; "
                    f"generations is {self.generations}"
                )
        if self.metrics is not None:
            known = self.family().metrics
            for m in self.metrics:
                if m not in known:
                    raise ValueError(f"metrics: unknown metric {m!r}; allowed: {', '.join(known)}")
        return self

    def family(self) -> Family:
        return self.model.build(self.source)

    def metric_names(self) -> list[str]:
        return list(self.metrics) if self.metrics is not None else list(self.family().metrics)
