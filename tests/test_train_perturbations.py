"""Perturbation sources: values, replay, state round trips and clear errors."""
import pytest
import torch

from pezo.golden import CltSpec, OtfSpec, PAPER_DEFAULTS, PoolSpec, Stream, gaussian
from pezo.train import perturbations

PARAMS = [torch.zeros(3, 4), torch.zeros(5), torch.zeros(2, 2, 3)]
VALUES = sum(p.numel() for p in PARAMS)


def flat(source):
    return torch.cat([u.clone().view(-1) for u in source.tensors(PARAMS)])


@pytest.mark.parametrize("name", perturbations.NAMES)
def test_every_source_replays_until_next(name):
    source = perturbations.make(name, seed=3)
    first = flat(source)
    assert [u.shape for u in source.tensors(PARAMS)] == [p.shape for p in PARAMS]
    assert torch.equal(first, flat(source))
    source.next(VALUES)
    assert not torch.equal(first, flat(source))


def test_value_sets():
    rademacher = flat(perturbations.make("rademacher", seed=1))
    assert set(rademacher.tolist()) == {-1.0, 1.0}
    uniform = flat(perturbations.make("uniform", seed=1))
    assert uniform.abs().max() < 1 and uniform.min() < 0 < uniform.max()


def test_uniform_raw_is_the_otf_mantissas():
    spec = OtfSpec(generators=7, width=5)
    raw = flat(perturbations.make("uniform-raw", spec=spec))
    mantissas, _ = Stream(spec)(0, -(-VALUES // spec.lanes))
    assert torch.equal(raw, mantissas.view(-1)[:VALUES].float())
    assert raw.abs().max() <= 15


def test_clt_gaussian_is_the_baseline_hardwares_stream():
    """Values in order over the tensors, word by word, from the Table 6 baseline's 1024 lanes (spec seed 1), at
    the constant exponent 2^-11; the next perturbation starts at the next whole word, as if the hardware had run
    through. The run's seed does not change the stream (it is the spec's)."""
    source = perturbations.make("clt-gaussian", seed=0)
    assert source.spec == CltSpec() and source.describe() == {"perturb": "clt-gaussian",
                                                              "spec": {"strategy": "clt", "exp_bits": None,
                                                                       "length_bits": 32, "lanes": 1024, "seed": 1}}
    big = [torch.zeros(3, 700), torch.zeros(5)]
    values = sum(p.numel() for p in big)
    words = -(-values // 1024)
    outputs = torch.from_numpy(gaussian.outputs(1, 1024, 2 * words)).view(-1)
    assert torch.equal(torch.cat([u.reshape(-1) for u in source.tensors(big)]), outputs[:values].float() / 2048)
    source.next(values)
    assert source.position == words
    second = torch.cat([u.reshape(-1) for u in source.tensors(big)])
    assert torch.equal(second, outputs[words * 1024:words * 1024 + values].float() / 2048)
    assert abs(second.pow(2).mean().item() - 4 / 3) < 0.1 and abs(second.mean().item()) < 0.05
    other = perturbations.make("clt-gaussian", spec=CltSpec(lanes=8, seed=9))
    assert torch.equal(flat(other), torch.from_numpy(gaussian.outputs(9, 8, -(-VALUES // 8))).view(-1)[:VALUES]
                       .float() / 2048)


def test_default_specs_are_the_papers():
    assert perturbations.make("pezo-otf").spec == PAPER_DEFAULTS["otf-31x8"]
    assert perturbations.make("pezo-pool").spec == PAPER_DEFAULTS["pool-4095x12"]
    pool = PoolSpec(size=63, bits=6)
    assert torch.equal(flat(perturbations.for_spec(pool)), Stream(pool).perturbation(0, VALUES))


@pytest.mark.parametrize("name", ["gaussian", "pezo-pool", "clt-gaussian"])
def test_state_round_trip(name):
    source = perturbations.make(name, seed=5)
    source.next(VALUES)
    state = source.state_dict()
    expected = [flat(source)]
    source.next(VALUES)
    expected.append(flat(source))
    restored = perturbations.make(name, seed=5)
    restored.load_state_dict(state)
    assert torch.equal(flat(restored), expected[0])
    restored.next(VALUES)
    assert torch.equal(flat(restored), expected[1])


def test_errors_name_the_value_and_what_is_allowed():
    with pytest.raises(ValueError, match="'normal' is unknown: allowed gaussian, rademacher"):
        perturbations.make("normal")
    with pytest.raises(ValueError, match="needs a spec of strategy otf"):
        perturbations.make("pezo-otf", spec=PAPER_DEFAULTS["pool-4095x12"])
    with pytest.raises(ValueError, match="takes no generator spec"):
        perturbations.make("gaussian", spec=PAPER_DEFAULTS["otf-31x8"])
    source = perturbations.make("pezo-otf")
    with pytest.raises(ValueError, match="differs"):
        source.load_state_dict({"start_word": 3, "spec": PAPER_DEFAULTS["otf-31x14"].to_dict()})
