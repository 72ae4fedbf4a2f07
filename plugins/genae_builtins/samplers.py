"""Plugin: the built-in samplers of the chain's starting codes, registered through the same
hook as a third party's (``register_samplers``).

* ``prior``: N(0, temperature^2 I); temperature 1 is the paper's start, lower temperatures
  trade recall for precision (StyleGAN's truncation).
* ``gmm``: a Gaussian mixture fitted (scikit-learn) on encoded training codes, the ex-post
  density of Ghosh et al. (ICLR 2020); fitted once per run and option set, cached.
* ``reweighted``: prior draws resampled with importance weights r(z)^power, where
  r = D / (1 - D) is the density ratio P^(Z) / P(Z) that the data score's classifier D of
  prior versus encoded training codes estimates (NCP-VAE, Aneja et al. 2021, by sampling-
  importance-resampling); ``classifier=adversary`` uses an AAE's own latent adversary.
  ``power`` < 1 tempers over-confident weights; the weights' effective sample size is
  reported, because a confident classifier degenerates.
"""
from genae_studio import SamplerSpec, hookimpl

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


class PriorSampler:
    def __init__(self, latent_dim: int, temperature: float):
        self.latent_dim, self.temperature = latent_dim, temperature
        self.info = {"temperature": temperature}

    def sample(self, n, rng):
        return self.temperature * rng.standard_normal((n, self.latent_dim))


def check_prior(*, temperature=1.0):
    from genae_studio import UsageError

    if not temperature > 0:
        raise UsageError(f"prior: temperature must be positive, got {temperature}")


def build_prior(context, *, temperature=1.0):
    check_prior(temperature=temperature)
    return PriorSampler(context.latent_dim, float(temperature))


class MixtureSampler:
    """Draws from a Gaussian mixture given by its parameters (as scikit-learn stores them)."""

    def __init__(self, weights, means, covariances, covariance_type, info):
        import numpy as np

        self.weights, self.means = np.asarray(weights, float), np.asarray(means, float)
        self.covariance_type = covariance_type
        k, d = self.means.shape
        cov = np.asarray(covariances, float)
        if covariance_type == "full":
            self.scales = np.linalg.cholesky(cov)
        elif covariance_type == "tied":
            self.scales = np.broadcast_to(np.linalg.cholesky(cov), (k, d, d))
        elif covariance_type == "diag":
            self.scales = np.stack([np.diag(np.sqrt(c)) for c in cov])
        else:  # spherical
            self.scales = np.stack([np.sqrt(c) * np.eye(d) for c in cov])
        self.info = info

    def sample(self, n, rng):
        import numpy as np

        counts = rng.multinomial(n, self.weights / self.weights.sum())
        parts = [self.means[c] + rng.standard_normal((m, self.means.shape[1])) @ self.scales[c].T
                 for c, m in enumerate(counts) if m]
        z = np.concatenate(parts)
        return z[rng.permutation(n)]  # components mixed, so that batches are too


def check_gmm(*, n_components=10, covariance_type="full"):
    from genae_studio import UsageError

    if covariance_type not in COVARIANCE_TYPES:
        raise UsageError(f"gmm: covariance_type must be one of {', '.join(COVARIANCE_TYPES)}, "
                         f"got {covariance_type!r}")
    if n_components < 1:
        raise UsageError(f"gmm: n_components must be at least 1, got {n_components}")


def build_gmm(context, *, n_components=10, covariance_type="full"):
    check_gmm(n_components=n_components, covariance_type=covariance_type)

    def fit():
        import numpy as np
        from sklearn.mixture import GaussianMixture

        codes = context.training_codes()
        if context.log:
            context.log(f"fitting a {n_components}-component {covariance_type} Gaussian "
                        f"mixture on {len(codes)} encoded training codes")
        gmm = GaussianMixture(n_components, covariance_type=covariance_type,
                              random_state=context.seed, reg_covar=1e-5).fit(codes)
        return {"weights": gmm.weights_, "means": gmm.means_, "covariances": gmm.covariances_,
                "codes": np.array(len(codes)), "converged": np.array(gmm.converged_),
                "log_likelihood": np.array(gmm.score(codes))}

    key = {"n_components": n_components, "covariance_type": covariance_type,
           "seed": context.seed, "max_codes": context.max_codes}
    p = context.cached("gmm", key, fit)
    info = {"n_components": int(n_components), "covariance_type": covariance_type,
            "codes": int(p["codes"]), "converged": bool(p["converged"]),
            "mean_log_likelihood": float(p["log_likelihood"])}
    return MixtureSampler(p["weights"], p["means"], p["covariances"], covariance_type, info)


class ReweightedSampler:
    """Sampling-importance-resampling of prior draws with weights r(z)^power, where
    ``log_ratio(z)`` estimates log r(z) = log P^(Z)(z) / P(z)."""

    def __init__(self, latent_dim, log_ratio, power, draws, info):
        self.latent_dim, self.log_ratio, self.power, self.draws = (latent_dim, log_ratio,
                                                                   power, draws)
        self.info = {"power": power, "draws_per_sample": draws, **info}

    def sample(self, n, rng):
        import numpy as np

        m = n * self.draws
        z = rng.standard_normal((m, self.latent_dim))
        log_w = self.power * self.log_ratio(z)
        w = np.exp(log_w - log_w.max())
        ess = float(w.sum() ** 2 / np.sum(w * w))
        self.info.update(ess=round(ess, 2), ess_share=round(ess / m, 5), proposals=m,
                         ess_per_sample=round(ess / n, 4))
        return z[rng.choice(m, size=n, replace=True, p=w / w.sum())]


def score_log_ratio(score):
    """log D / (1 - D) of the data score's classifier (balanced classes): log r."""
    import numpy as np

    def log_ratio(z):
        p = np.clip(score(z), 1e-9, 1 - 1e-9)
        return np.log(p) - np.log1p(-p)

    return log_ratio


def adversary_log_ratio(model):
    """An AAE's latent adversary D gives P(prior) as a logit; at its optimum
    D = P(z) / (P(z) + P^(Z)(z)), so log r = -logit."""
    def log_ratio(z):
        import torch

        was_training = model.training
        model.eval()  # dropout off
        try:
            with torch.no_grad():
                logits = torch.cat([model.adversary(torch.as_tensor(z[i:i + 4096],
                                                                    dtype=torch.float32,
                                                                    device=model.device))
                                    for i in range(0, len(z), 4096)])
        finally:
            model.train(was_training)
        return -logits.double().cpu().numpy()

    return log_ratio


def check_reweighted(*, power=0.5, draws=20, classifier="score"):
    from genae_studio import UsageError

    if not 0 <= power:
        raise UsageError(f"reweighted: power must be >= 0, got {power}")
    if draws < 1:
        raise UsageError(f"reweighted: draws must be at least 1, got {draws}")
    if classifier not in ("score", "adversary"):
        raise UsageError(f"reweighted: classifier must be score or adversary, got "
                         f"{classifier!r}")


def build_reweighted(context, *, power=0.5, draws=20, classifier="score"):
    from genae_studio import UsageError

    check_reweighted(power=power, draws=draws, classifier=classifier)
    if classifier == "score":
        score = context.data_score()
        log_ratio, info = score_log_ratio(score), {
            "classifier": "data score", "classifier_cv_accuracy": round(score.cv_accuracy, 4)}
    else:  # adversary (check_reweighted allows nothing else)
        model = context.run.model
        if not hasattr(model, "adversary"):
            raise UsageError(f"reweighted: classifier=adversary needs an adversarial model; "
                             f"{context.run.name} has no latent adversary")
        log_ratio, info = adversary_log_ratio(model), {"classifier": "the model's adversary"}
    return ReweightedSampler(context.latent_dim, log_ratio, float(power), int(draws), info)


@hookimpl
def register_samplers(register):
    register(SamplerSpec("prior", "N(0, temperature^2 I): the paper's start at temperature 1",
                         build_prior, options={"temperature": 1.0}, check=check_prior))
    register(SamplerSpec("gmm", "Gaussian mixture fitted on encoded training codes "
                                "(scikit-learn; cached per run)",
                         build_gmm, options={"n_components": 10, "covariance_type": "full"},
                         check=check_gmm))
    register(SamplerSpec("reweighted", "prior draws resampled by the data score's density "
                                       "ratio, tempered (weights^power); reports the ESS",
                         build_reweighted,
                         options={"power": 0.5, "draws": 20, "classifier": "score"},
                         check=check_reweighted))
