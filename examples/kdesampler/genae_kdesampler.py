"""Example plugin: a sampler of the chains' starting codes.

A kernel density estimate of the encoded training codes: pick an encoded training image's
code at random and add Gaussian noise of scale ``bandwidth``. Load it with
``--plugin examples/kdesampler/genae_kdesampler.py`` and compare it with the built-ins:
``genae-studio eval --sampler prior,gmm,kde:bandwidth=0.2``.
"""
from genae_studio import SamplerSpec, hookimpl


class KDESampler:
    def __init__(self, codes, bandwidth):
        self.codes, self.bandwidth = codes, bandwidth
        self.info = {"codes": len(codes), "bandwidth": bandwidth}  # reported by eval

    def sample(self, n, rng):
        picked = self.codes[rng.integers(0, len(self.codes), n)]  # every draw from rng
        return picked + self.bandwidth * rng.standard_normal(picked.shape)


def build_kde(context, *, bandwidth=0.1):
    if bandwidth < 0:
        raise ValueError(f"bandwidth must be >= 0, got {bandwidth}")
    return KDESampler(context.training_codes(), bandwidth)


@hookimpl
def register_samplers(register):
    register(SamplerSpec("kde", "encoded training codes plus N(0, bandwidth^2 I) noise",
                         build_kde, options={"bandwidth": 0.1}))
