"""Module / Parameter / ModuleList bookkeeping: names, modes, checkpoints."""
import numpy as np
import pytest

from minih2rec.autograd import Tensor
from minih2rec.nn import Embedding, Linear, Module, ModuleList, Parameter

pytestmark = pytest.mark.numpy_backend


class Toy(Module):
    def __init__(self, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.emb = Embedding(5, 3, rng)
        self.layers = ModuleList([Linear(3, 4, rng), Linear(4, 2, rng, bias=False)])
        self.scale = Parameter(np.ones(2))
        self.not_a_param = np.zeros(3)            # plain arrays are not registered

    def forward(self, idx):
        x = self.emb(idx)
        for layer in self.layers:
            x = layer(x)
        return x * self.scale


def test_named_parameters_dotted_names_in_assignment_order():
    names = [n for n, _ in Toy().named_parameters()]
    assert names == ["emb.weight", "layers.0.weight", "layers.0.bias", "layers.1.weight", "scale"]


def test_parameters_are_float32_and_require_grad():
    for p in Toy().parameters():
        assert isinstance(p, Parameter) and p.requires_grad and p.dtype == np.float32


def test_num_parameters():
    assert Toy().num_parameters() == 5 * 3 + 3 * 4 + 4 + 4 * 2 + 2


def test_shared_module_and_parameter_reported_once():
    m = Toy()
    m.alias = m.layers[0]                         # same module under a second name
    m.tied = m.scale                              # same parameter under a second name
    names = [n for n, _ in m.named_parameters()]
    assert len(names) == len(set(id(p) for p in m.parameters())) == 5
    assert "alias.weight" not in names and "tied" not in names


def test_train_eval_recursive():
    m = Toy()
    m.eval()
    assert all(not mod.training for _, mod in m.named_modules())
    m.train()
    assert all(mod.training for _, mod in m.named_modules())


def test_zero_grad_clears_all():
    m = Toy()
    m(np.array([[1, 2, 0]])).sum().backward()
    assert any(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_state_dict_round_trip_gives_same_outputs():
    a, b = Toy(seed=0), Toy(seed=1)
    idx = np.array([[1, 2, 3, 4]])
    assert not np.allclose(a(idx).data, b(idx).data)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(idx).data, b(idx).data)


def test_state_dict_is_a_copy():
    m = Toy()
    sd = m.state_dict()
    sd["scale"][:] = 123.0
    assert np.all(m.scale.data == 1.0)


def test_load_state_dict_keeps_array_identity():
    m = Toy()
    before = m.scale.data
    m.load_state_dict({k: v + 1 for k, v in m.state_dict().items()})
    assert m.scale.data is before and np.all(before == 2.0)


@pytest.mark.parametrize("edit, words", [
    (lambda sd: sd.pop("scale"), ["missing", "scale"]),
    (lambda sd: sd.__setitem__("extra.weight", np.zeros(1)), ["unexpected", "extra.weight"]),
    (lambda sd: sd.__setitem__("layers.0.bias", np.zeros(5)), ["shape", "layers.0.bias", "(5,)", "(4,)"]),
])
def test_load_state_dict_errors_name_the_problem_and_change_nothing(edit, words):
    m = Toy()
    original = m.state_dict()
    sd = {k: v + 1 for k, v in original.items()}
    edit(sd)
    with pytest.raises(ValueError) as err:
        m.load_state_dict(sd)
    for w in words:
        assert w in str(err.value)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, original[k])


def test_module_list_indexing_and_errors():
    rng = np.random.default_rng(0)
    ml = ModuleList([Linear(2, 2, rng) for _ in range(3)])
    assert len(ml) == 3 and ml[-1] is ml[2]
    with pytest.raises(IndexError):
        ml[3]
    with pytest.raises(ValueError):
        ml.append(Tensor(np.zeros(2)))


def test_to_dtype_float64():
    m = Toy().to_dtype(np.float64)
    assert all(p.dtype == np.float64 for p in m.parameters())


def test_forward_not_defined_raises():
    with pytest.raises(NotImplementedError):
        Module()(1)
