"""Old name of ``genae_studio.compiled_plans`` (the chain's compiled DCGAN plans).

Kept so that ``from genae_studio import fast`` and ``genae_studio.fast.cached_plan`` still
work: importing it gives the very same module object.
"""
import sys

from . import compiled_plans

sys.modules[__name__] = compiled_plans
