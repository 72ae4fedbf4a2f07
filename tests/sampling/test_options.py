"""The chain's options shared by the command line, the API and the studio."""
import pytest

from genae_studio.errors import UsageError
from genae_studio.sampling import BN_MODES, MAX_STEPS, parse_steps, sorted_steps
from genae_studio.sampling import _chain as chain


def test_steps_keep_their_order_and_sorted_steps_sorts_them():
    assert parse_steps("10, 0,5, 1") == [10, 0, 5, 1]
    assert sorted_steps("10,0,5,0") == [0, 5, 10]


@pytest.mark.parametrize("text,message", [
    ("1,x", "--steps must be comma-separated integers"),
    ("-1,2", "--steps must be non-negative"),
    (",", "--steps must be comma-separated integers"),
    ("0,,1", "no empty item"),
    (str(MAX_STEPS + 1), f"more than {MAX_STEPS}"),
])
def test_bad_steps_are_one_usage_error(text, message):
    with pytest.raises(UsageError, match=message):
        parse_steps(text)


def test_the_chain_takes_the_same_batch_norm_modes():
    assert chain.BN_MODES is BN_MODES == ("batch", "eval", "precise")
